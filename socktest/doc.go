// Package socktest is a test kit for applications of the sock package: an
// in-memory, multi-homed IPv4 network of hosts on which sock stacks run,
// with per-path faults that a test switches at run time, in simulated time.
//
// A test builds a Network, adds hosts with one or more addresses each,
// takes a sock.Stack on each host and uses the stacks as it would on real
// sockets. Links select traffic by address (Path: one address to another,
// one way; Link: prefix to prefix, one way; Between: both ways) and cut
// it, lose, delay, reorder, duplicate or corrupt a share of it, and count
// what they did:
//
//	func TestFailover(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			n := socktest.NewNetwork(t, socktest.WithSeed(7))
//			a := n.AddHost("a", a1, a2).Stack()
//			b := n.AddHost("b", b1, b2).Stack()
//			// ... endpoints on a and b, an association between them ...
//			n.Between(netip.PrefixFrom(a1, 32), netip.PrefixFrom(b1, 32)).Cut(true)
//			// ... wait for sock.EventPathDown; messages still arrive ...
//		})
//	}
//
// # Simulated time
//
// Run the test in a testing/synctest bubble and build the Network inside
// it, with the bubble's t: the network's router, its timers and the
// stacks' timers then run on the bubble's fake clock. Minutes of
// heartbeats, retransmission timeouts and failover take milliseconds, and
// nothing depends on the machine's speed, so bounds such as "failover
// within RTO.Initial" can be checked exactly with time.Now and
// time.Since. A Network made outside a bubble works too, on the wall
// clock (the Example does so, because Example functions get no
// *testing.T for synctest.Test).
//
// A run is reproducible. The network's random draws are seeded by
// WithSeed and made per packet, from the packet's addresses, ports and
// bytes, so that a packet's fate does not depend on the order in which
// the stacks' goroutines hand packets over; that order, within one
// simulated instant, is the scheduler's, which synctest does not fix. The
// stacks draw their own randomness (verification tags, heartbeat jitter
// and nonces) from crypto/rand: call testing/cryptotest.SetGlobalRandom(t,
// seed) in the bubble too (not possible in parallel tests). Then the same
// things happen at the same simulated instants on every run; only the
// order of things at one instant may differ (a timer expiring as a packet
// arrives). Change a fault before the traffic it is meant for, or between
// the test's own sends: a setting changed while packets fly applies from
// a point the scheduler picks. TestReplay runs a lossy failover twice and
// compares the events and deliveries at their simulated times.
//
// Close (registered with t.Cleanup by NewNetwork) closes the stacks made
// by Host.Stack, drops the delayed packets and stops the router, inside
// the bubble: nothing of the network outlives the test.
//
// # What it cannot do
//
// The network is pion's vnet (github.com/pion/transport/v5/vnet) with
// these limits:
//
//   - IPv4 only, one prefix (WithPrefix) for every host: vnet's router
//     routes one IPv4 network, and there is no IPv6 path.
//   - No MTU unless WithMTU sets one: vnet carries UDP datagrams of any
//     size (pion's Net.WriteTo copies the whole payload) and there is no
//     fragmentation, no ICMP and so no path MTU discovery.
//   - UDP only (vnet's Net has no TCP), and a host's traffic to 127.0.0.1
//     stays inside its vnet.Net and never crosses the router, so Links do
//     not see it; traffic to the host's own addresses does cross it.
//   - Each socket queues at most 1024 datagrams and drops the rest
//     silently (vnet's UDPConn read queue); one router carries a few
//     hundred thousand packets per second. It is a functional and fault
//     model, not a load model.
//   - Delayed and duplicated packets go back through the router by a
//     vnet.DuplicationFilter, which rounds their delivery up to the next
//     millisecond.
//   - No IP_PKTINFO: a socket bound to 0.0.0.0 sends from the host's first
//     address, so bind one socket per address (sock does).
//   - vnet.NewNet increments a package-level counter without a lock
//     (newMACAddress): socktest serialises its own calls, so parallel
//     tests on socktest networks are safe, but other code building vnet
//     networks at the same time races with them. vnet's
//     RouterConfig.MaxJitter sleeps holding a lock, which deadlocks a
//     synctest bubble: the kit does not use it (SetDelay does the same
//     per Link).
package socktest
