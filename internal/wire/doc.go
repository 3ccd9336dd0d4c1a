// Package wire is the contract between Estate's two halves: the JSON that a
// gateway sends the desk and gets back. It holds the alarm actions of the
// gateway's outbox and the desk's answer, the ticket vocabulary a gateway
// needs to fill them in (kinds, priorities, statuses, readings, the ticket
// itself), and the heartbeat (gateway and device status).
//
// Both halves import it and nothing else of each other: the gateway never
// imports the desk's packages, so either half can change its insides while
// this package, and its JSON tags, stay put. The desk's lifecycle, deadlines
// and escalation live in desk/ticket; only their names are here.
package wire
