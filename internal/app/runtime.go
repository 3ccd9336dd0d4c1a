package app

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/estatehq/estate/internal/config"
)

// ApplyGatewayRuntime sets the process's GOMAXPROCS, GOGC and memory limit
// from gateway.runtime (config.Runtime says why a gateway wants one
// processor), leaving alone what the environment sets. Only `estate gateway`
// calls it: it changes the whole process.
func ApplyGatewayRuntime(rt config.Runtime, log *slog.Logger) {
	procs := config.DefaultMaxProcs
	if rt.MaxProcs != nil {
		procs = *rt.MaxProcs
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set && procs > 0 {
		runtime.GOMAXPROCS(procs)
	}
	gc := config.DefaultGCPercent
	if rt.GCPercent != nil {
		gc = *rt.GCPercent
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gc)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && rt.MemoryLimitMB > 0 {
		debug.SetMemoryLimit(int64(rt.MemoryLimitMB) << 20)
	}
	log.Debug("go runtime", "gomaxprocs", runtime.GOMAXPROCS(0), "gogc", gc, "memory_limit_mb", rt.MemoryLimitMB)
}
