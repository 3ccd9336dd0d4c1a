package config

import (
	"fmt"
	"os"
	"regexp"
)

// envRef is a secret given as "${NAME}": the value comes from the environment,
// so that real secrets need not be written into configuration files.
var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// expandSecrets replaces "${NAME}" in secret fields by the environment's value.
func (c *Config) expandSecrets() []Problem {
	var ps []Problem
	expand := func(path string, v *string) {
		m := envRef.FindStringSubmatch(*v)
		if m == nil {
			return
		}
		val, ok := os.LookupEnv(m[1])
		if !ok || val == "" {
			ps = append(ps, c.Problemf(path, "environment variable %s is not set (export it, or write the secret here)", m[1]))
			return
		}
		*v = val
	}
	expand("gateway.desk_token", &c.Gateway.DeskToken)
	expand("influxdb.token", &c.InfluxDB.Token)
	for i := range c.Devices {
		if d := c.Devices[i].DLT645; d != nil {
			expand(fmt.Sprintf("devices[%d].dlt645.password", i), &d.Password)
		}
	}
	c.Desk.Secrets(expand)
	return ps
}
