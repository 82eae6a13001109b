// Package procstat reads a process's memory and CPU figures from /proc, for
// the load programs and memory benchmarks that measure a server in another
// process. Standard library only; every reader returns 0 when the figure
// cannot be read (no such process, not Linux).
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSSKiB returns the resident set size (VmRSS) of pid in KiB; 0 without a
// pid (pid <= 0).
func RSSKiB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// CPUSeconds returns the user+system CPU time of pid in seconds; 0 without
// a pid (pid <= 0).
func CPUSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}
