package config

import "github.com/estatehq/estate/desk/deskconfig"

// Desk is the desk: section, owned by the desk (desk/deskconfig holds its
// types and defaults, desk.Validate its checks).
type Desk = deskconfig.Config

// minTokenSize is the shortest desk token: the gateway's desk_token must be
// one the desk accepts.
const minTokenSize = deskconfig.MinTokenSize
