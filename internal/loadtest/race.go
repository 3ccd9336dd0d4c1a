//go:build race

package loadtest

// raceEnabled: the test was built with -race, and so is the desk it starts.
const raceEnabled = true
