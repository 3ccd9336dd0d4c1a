package deskclient

import (
	"context"

	"github.com/estatehq/estate/internal/wire"
)

// Heartbeat reports the gateway's device health to the desk and returns
// what the desk hands back: its site's maintenance windows, the approved
// commands for its devices, and the command results the desk recorded (an
// answer without a body, 204, hands nothing).
func (c *Client) Heartbeat(ctx context.Context, s wire.GatewayStatus) (wire.HeartbeatAnswer, error) {
	var a wire.HeartbeatAnswer
	err := c.post(ctx, "/api/v1/gateways/heartbeat", s, &a)
	return a, err
}
