// Package bench holds the project's benchmarks that span packages. Its
// failover benchmarks measure the time from a path cut to the first message
// delivered over the other path: in simulated time on a pion vnet under
// testing/synctest (TestFailoverSimulated, exact and reproducible) and in
// wall time on real loopback sockets with the stack's fault filter
// (BenchmarkFailoverLoopback).
//
//	go test ./bench -run TestFailoverSimulated -v
//	go test ./bench -run '^$' -bench Failover -benchtime 5x
package bench
