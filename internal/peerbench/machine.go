package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type machine struct {
	Date, CPU, Kernel, Go, Commit, Command string
	Cores                                  int
	QuietAtStart                           string
}

func machineInfo() machine {
	m := machine{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown CPU"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Commit = "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			m.Commit += "-dirty"
		}
	}
	return m
}

func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// waitLoad waits until the 1-minute load average is at most max, or wait
// passed; it describes what it found.
func waitLoad(max float64, wait time.Duration) string {
	deadline := time.Now().Add(wait)
	said := false
	for {
		l := loadAvg1()
		if l <= max {
			return fmt.Sprintf("load average %.2f", l)
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "peerbench: load average still %.2f after %s; measuring anyway (noisy)\n", l, wait)
			return fmt.Sprintf("load average %.2f (NOT quiet: waited %s)", l, wait)
		}
		if !said {
			fmt.Fprintf(os.Stderr, "peerbench: waiting for the 1-minute load average (%.2f) to drop to %.2f\n", l, max)
			said = true
		}
		time.Sleep(5 * time.Second)
	}
}

// cpuTimes returns total and idle jiffies of all CPUs.
func cpuTimes() (total, idle uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return total, idle
}

// busy is the fraction of the machine's CPU time used over d.
func busy(d time.Duration) float64 {
	t0, i0 := cpuTimes()
	time.Sleep(d)
	t1, i1 := cpuTimes()
	if t1 <= t0 {
		return 0
	}
	return 1 - float64(i1-i0)/float64(t1-t0)
}

// waitCPU waits until the machine's CPUs were busy at most max over one
// second, or wait passed; it returns the last figure.
func waitCPU(max float64, wait time.Duration) float64 {
	deadline := time.Now().Add(wait)
	for {
		b := busy(time.Second)
		if b <= max || time.Now().After(deadline) {
			if b > max {
				fmt.Fprintf(os.Stderr, "peerbench: CPUs still %.0f%% busy; measuring anyway\n", b*100)
			}
			return b
		}
	}
}
