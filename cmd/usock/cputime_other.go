//go:build !unix && !windows

package main

// readCPU reports that the CPU time is not known on this system.
func readCPU() cpuTime { return cpuTime{} }
