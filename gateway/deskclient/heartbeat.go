package deskclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/estatehq/estate/internal/fleet"
)

// Heartbeat reports the gateway's device health to the desk.
func (c *Client) Heartbeat(ctx context.Context, s fleet.GatewayStatus) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode heartbeat: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/gateways/heartbeat", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("desk request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("desk %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return &StatusError{Code: resp.StatusCode, Msg: "heartbeat refused"}
	}
	return nil
}
