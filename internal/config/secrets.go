package config

import "regexp"

// envRef is a secret given as "${NAME}": the value comes from the environment,
// so that real secrets need not be written into configuration files. With
// "${NAME:-default}" an unset (or empty) variable takes the default written
// there, as in the shell, so that an example checks out of the box; a
// warning says so (Warnings), because such a default is known to everyone
// who has read the file.
var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-(.*))?\}$`)

// expandSecrets replaces "${NAME}" in the built-in secret fields by the
// environment's value; the options other packages own mark theirs with the
// tag `secret:"env"` (see DecodeStrict).
func (c *Config) expandSecrets() []Problem {
	var ps []Problem
	expand := func(path string, v *string) {
		if p, ok := c.expandSecret(path, v); !ok {
			ps = append(ps, p)
		}
	}
	expand("gateway.desk_token", &c.Gateway.DeskToken)
	expand("gateway.metrics_token", &c.Gateway.MetricsToken)
	expand("influxdb.token", &c.InfluxDB.Token)
	c.Desk.Secrets(expand)
	return ps
}
