// Package all registers every device protocol and simulator kind; import it
// for its side effect.
package all

import (
	_ "github.com/estatehq/estate/devices/dlt645"    // DL/T 645-2007 meters on RS-485
	_ "github.com/estatehq/estate/devices/firepanel" // fire panels: GB/T 26875.3, CRT lines
	_ "github.com/estatehq/estate/devices/modbus"    // Modbus TCP
	_ "github.com/estatehq/estate/devices/mqtt"      // MQTT (elevator monitors, door controllers)
)
