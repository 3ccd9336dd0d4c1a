package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as a crashing appender (see TestSIGKILLDuringAppends).
func TestMain(m *testing.M) {
	if dir := os.Getenv("ESTATE_SPOOL_CRASH_CHILD"); dir != "" {
		crashChild(dir, Sync(os.Getenv("ESTATE_SPOOL_CRASH_SYNC")))
		return
	}
	os.Exit(m.Run())
}

// crashChild appends until it is killed, printing each seq Append returned.
func crashChild(dir string, sync Sync) {
	s, err := Open(dir, Options{SegmentBytes: 64 << 10, MaxBytes: 64 << 20, Sync: sync}, quiet())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := s.NextSeq(); ; i++ {
		seq, err := s.Append(Entry{Time: int64(i), Data: payload(i)})
		if err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			os.Exit(1)
		}
		fmt.Fprintln(out, seq)
		out.Flush()
	}
}

// TestSIGKILLDuringAppends kills an appending process without warning, twice,
// and checks that every append it confirmed is there after each restart and
// that the spool carries on from there.
func TestSIGKILLDuringAppends(t *testing.T) {
	for _, sync := range []Sync{SyncNever, SyncAlways} {
		t.Run(string(sync), func(t *testing.T) {
			dir := t.TempDir()
			var confirmed uint64
			for round := range 2 {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "ESTATE_SPOOL_CRASH_CHILD="+dir, "ESTATE_SPOOL_CRASH_SYNC="+string(sync))
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				lines := bufio.NewScanner(stdout)
				deadline := time.Now().Add(200 * time.Millisecond)
				for lines.Scan() {
					seq, err := strconv.ParseUint(lines.Text(), 10, 64)
					if err != nil {
						t.Fatalf("child: %s", lines.Text())
					}
					confirmed = seq
					if time.Now().After(deadline) {
						break
					}
				}
				_ = cmd.Process.Signal(syscall.SIGKILL)
				for lines.Scan() { // appends confirmed before the kill landed
					if seq, err := strconv.ParseUint(lines.Text(), 10, 64); err == nil {
						confirmed = seq
					}
				}
				_ = cmd.Wait()
				if confirmed == 0 {
					t.Fatalf("round %d: child confirmed nothing", round)
				}

				s := open(t, dir, Options{SegmentBytes: 64 << 10, MaxBytes: 64 << 20, Sync: sync})
				got := readAll(t, s, 1)
				s.Close()
				if uint64(len(got)) < confirmed {
					t.Fatalf("round %d: %d appends confirmed before SIGKILL, only %d recovered", round, confirmed, len(got))
				}
				wantRange(t, got, 1, uint64(len(got)))
				t.Logf("round %d (%s): confirmed %d, recovered %d", round, sync, confirmed, len(got))
			}
		})
	}
}
