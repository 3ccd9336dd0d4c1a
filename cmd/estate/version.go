package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at link time by `make build` (-ldflags "-X main.version=… -X main.commit=… -X main.date=…");
// when empty, the module and VCS stamps that `go build` records are used instead.
var (
	version string
	commit  string
	date    string
)

func init() {
	register("version", command{
		usage:   "version",
		summary: "print the version, commit and build date",
		run: func(args []string, stdout, stderr io.Writer) int {
			fs := newFlagSet("version", stderr)
			if code, ok := parseFlags(fs, args, stdout); !ok {
				return code
			}
			if fs.NArg() > 0 {
				fs.Usage()
				return 2
			}
			v, c, d, dirty := buildInfo()
			if dirty {
				c += " (modified)"
			}
			fmt.Fprintf(stdout, "estate %s\ncommit %s\nbuilt  %s\ngo     %s %s/%s\n", v, c, d, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return 0
		},
	})
}

// buildInfo returns what is known of this binary: -ldflags values first, then
// what the Go toolchain stamped (module version, vcs.revision, vcs.time).
func buildInfo() (ver, rev, built string, dirty bool) {
	ver, rev, built = version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				if built == "" {
					built = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true" && commit == ""
			}
		}
	}
	if ver == "" {
		ver = "dev"
	}
	if rev == "" {
		rev = "unknown"
	}
	if built == "" {
		built = "unknown"
	}
	return ver, rev, built, dirty
}
