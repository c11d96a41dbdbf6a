//go:build unix

package main

import (
	"syscall"
	"time"
)

// readCPU returns the process's user and system CPU time (getrusage(2)).
func readCPU() cpuTime {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTime{}
	}
	return cpuTime{user: time.Duration(ru.Utime.Nano()), sys: time.Duration(ru.Stime.Nano()), ok: true}
}
