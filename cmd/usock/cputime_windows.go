//go:build windows

package main

import (
	"syscall"
	"time"
)

// readCPU returns the process's user and kernel CPU time
// (GetProcessTimes).
func readCPU() cpuTime {
	self, err := syscall.GetCurrentProcess()
	if err != nil {
		return cpuTime{}
	}
	var created, exited, kernel, user syscall.Filetime
	if err := syscall.GetProcessTimes(self, &created, &exited, &kernel, &user); err != nil {
		return cpuTime{}
	}
	// Filetime counts 100 ns intervals.
	ticks := func(f syscall.Filetime) time.Duration {
		return time.Duration(int64(f.HighDateTime)<<32|int64(f.LowDateTime)) * 100
	}
	return cpuTime{user: ticks(user), sys: ticks(kernel), ok: true}
}
