// Package configs carries the files shipped with Estate that the binary
// itself needs when no copy is on disk: the maintenance plan templates
// (maintenance/templates.yaml), read by desk/maintenance.
package configs

import _ "embed"

// MaintenanceTemplates is maintenance/templates.yaml.
//
//go:embed maintenance/templates.yaml
var MaintenanceTemplates []byte
