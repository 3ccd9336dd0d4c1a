package deskclient

import (
	"context"

	"github.com/estatehq/estate/internal/wire"
)

// Heartbeat reports the gateway's device health to the desk.
func (c *Client) Heartbeat(ctx context.Context, s wire.GatewayStatus) error {
	return c.post(ctx, "/api/v1/gateways/heartbeat", s, nil)
}
