package main

import "io"

// simulators are the `estate sim KIND …` subcommands: simulated devices that
// engineers run to try a configuration without hardware. Each kind registers
// itself from its own file with registerSim.
var simulators = map[string]command{}

func registerSim(kind string, c command) { simulators[kind] = c }

func init() {
	register("sim", command{"sim KIND [flags]", "serve a simulated device (see estate sim)",
		func(a []string, o, e io.Writer) int { return subcommands("sim", simulators, a, o, e) }})
}
