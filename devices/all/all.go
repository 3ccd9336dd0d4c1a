// Package all registers every device protocol; import it for its side effect.
package all

import (
	_ "github.com/estatehq/estate/devices/modbus" // Modbus TCP
	_ "github.com/estatehq/estate/devices/mqtt"   // MQTT (elevator monitors, door controllers)
)
