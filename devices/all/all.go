// Package all registers every device protocol, every simulator kind and
// every family with logic of its own; import it for its side effect. Adding
// one is one line here.
package all

import (
	_ "github.com/estatehq/estate/devices/access"    // family access: doors forced, held open (any transport)
	_ "github.com/estatehq/estate/devices/cjt188"    // CJ/T 188 water meters on M-Bus / RS-485
	_ "github.com/estatehq/estate/devices/dlt645"    // DL/T 645-2007 meters on RS-485
	_ "github.com/estatehq/estate/devices/elevator"  // family elevator: entrapments, faults (any transport)
	_ "github.com/estatehq/estate/devices/firepanel" // fire panels: GB/T 26875.3, CRT lines
	_ "github.com/estatehq/estate/devices/guardtour" // family guardtour: patrol readers' checkpoint scans over MQTT
	_ "github.com/estatehq/estate/devices/leak"      // family leak: leak sensors and sump pumps, flooding per room (any transport)
	_ "github.com/estatehq/estate/devices/modbus"    // Modbus TCP, RTU, RTU over TCP
	_ "github.com/estatehq/estate/devices/mqtt"      // MQTT (elevator monitors, door controllers)
)
