package devices

import (
	"fmt"
	"slices"
	"strings"

	"github.com/estatehq/estate/internal/config"
)

// Defaulter is implemented by options (a protocol's or a family's) that fill
// in their own defaults once decoded.
type Defaulter interface {
	SetDefaults()
}

// OptionsOf returns a device's options of type T (the struct its protocol's
// Options returns a pointer to): as validation decoded them, as code set
// them, or else decoded from the device's YAML without checks (validation
// reports what is wrong), with their defaults.
func OptionsOf[T any](dev config.Device) *T {
	if o, ok := dev.ProtocolOptions.(*T); ok && o != nil {
		return o
	}
	o := new(T)
	if dev.Node != nil {
		_ = dev.Node.Decode(o) // best effort: an invalid configuration was refused by Validate
	}
	if d, ok := any(o).(Defaulter); ok {
		d.SetDefaults()
	}
	return o
}

// decodeDevice decodes a device's protocol options strictly from its YAML
// mapping. A key that is neither the device's own, nor its protocol's, nor
// its family's is unknown, with two exceptions that keep older files loading:
// a key another protocol takes is ignored (address, serial and slave_id were
// once every device's keys), unless that protocol declares it exclusive (an
// mqtt block on a Modbus device is a mistake worth telling).
func decodeDevice(cfg *config.Config, dev config.Device, path string, p Protocol) (opts any, ps []config.Problem, secretsOK bool) {
	known := config.DeviceKeys()
	if p.Options != nil {
		opts = p.Options()
		known = append(known, config.Keys(opts)...)
	}
	fam, hasFamily := lookupFamily(dev.Family)
	if hasFamily && fam.Options != nil {
		known = append(known, config.Keys(fam.Options())...)
	}
	if dev.Node != nil {
		var skip []string
		for i := 0; i+1 < len(dev.Node.Content); i += 2 {
			key := dev.Node.Content[i].Value
			if slices.Contains(known, key) {
				continue
			}
			if msg, owner := foreignKey(key, dev); owner {
				skip = append(skip, key)
				if msg != "" {
					ps = append(ps, cfg.Problemf(path+"."+key, "%s", msg))
				}
			}
		}
		skip = append(skip, config.DeviceKeys()...)
		if hasFamily && fam.Options != nil {
			skip = append(skip, config.Keys(fam.Options())...)
		}
		target := opts
		if target == nil {
			target = &struct{}{}
		}
		before := len(ps)
		ps = append(ps, cfg.DecodeStrict(dev.Node, path, target, skip...)...)
		secretsOK = !slices.ContainsFunc(ps[before:], func(p config.Problem) bool {
			return strings.HasPrefix(p.Msg, "environment variable ")
		})
	} else {
		secretsOK = true
	}
	if d, ok := opts.(Defaulter); ok && opts != nil {
		d.SetDefaults()
	}
	return opts, ps, secretsOK
}

// foreignKey tells whether another protocol or family takes a key, and what
// a device of this protocol or family is told when it carries it ("" when the
// key is tolerated).
func foreignKey(key string, dev config.Device) (msg string, owned bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := registry[n]
		if n == dev.Protocol || p.Options == nil || !slices.Contains(config.Keys(p.Options()), key) {
			continue
		}
		owned = true
		if m, ok := p.Exclusive[key]; ok {
			if strings.Contains(m, "%q") {
				m = fmt.Sprintf(m, dev.Protocol)
			}
			return m, true
		}
	}
	if owned {
		return "", true
	}
	for n, f := range families {
		if n == dev.Family || f.Options == nil || !slices.Contains(config.Keys(f.Options()), key) {
			continue
		}
		if f.Misplaced == "" {
			return fmt.Sprintf("applies to devices of family %s only", n), true
		}
		return f.Misplaced, true
	}
	return "", false
}
