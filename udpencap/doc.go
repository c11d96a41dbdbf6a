// Package udpencap is the UDP encapsulation transport of the usock SCTP
// stack (RFC 6951, "UDP Encapsulation of Stream Control Transmission
// Protocol (SCTP) Packets for End-Host to End-Host Communication").
//
// RFC 6951 section 5.2 puts the SCTP packet directly behind the UDP header:
//
//	+--------------------------------------+
//	|              IP Header               |
//	+--------------------------------------+
//	|              UDP Header              |
//	+--------------------------------------+
//	| SCTP Common Header                   |
//	| SCTP Chunk #1 ... SCTP Chunk #n      |
//	+--------------------------------------+
//
// and section 5.1 says that "each SCTP stack uses a single local UDP
// encapsulation port number as the destination port for all its incoming
// SCTP packets". A Bind is that port as the stack uses it; a Transport is
// the Bind of real and virtual networks: one UDP socket per local address,
// all bound to the same UDP port, each with one read goroutine that checks
// every datagram (length, CRC32c) and hands it to the Transport's one
// Receiver, whatever its SCTP port (the SCTP layer finds the endpoint).
// Package udpencaptest has an in-memory Bind for tests.
//
// RFC 6951 section 5.1 leaves the remote UDP encapsulation port to the SCTP
// layer: "An
// SCTP implementation supporting UDP encapsulation MUST maintain a remote UDP
// encapsulation port number per destination address for each SCTP
// association." That is why Meta carries the peer's UDP source port
// (Meta.Src) and why Send takes a full netip.AddrPort destination: this
// package keeps no per-association state.
//
// # Concurrency and buffer contract
//
// The contract is written on each method of Bind and on Receiver. In
// short:
//
//   - Receiver.ReceivePacket runs synchronously on a read goroutine of the
//     Bind. The packet slice aliases a reused receive buffer and is valid
//     only until ReceivePacket returns; a receiver copies what it keeps.
//     ReceivePacket must not block for long (it stalls every later
//     datagram of that socket) and may be called concurrently from the read
//     goroutines of different sockets.
//   - Send is safe for concurrent use, writes synchronously on the caller's
//     goroutine, and never modifies or keeps the packet.
//   - Enqueue may return before the packet is written and keeps it until
//     then: the caller must not touch it again.
//   - Close writes what Enqueue queued, closes every socket and waits until
//     every read goroutine has returned, so no ReceivePacket call is
//     running once Close returns. Calling Close from inside ReceivePacket
//     deadlocks.
//
// # I/O modes
//
// When the socket obtained from Config.Net is a *net.UDPConn (the real
// network, stdnet) and the platform has recvmmsg/sendmmsg (Linux), a socket
// reads and writes in batches with golang.org/x/net/ipv4 and ipv6
// PacketConn.ReadBatch and WriteBatch. Otherwise (virtual networks such as
// pion's vnet, Config.DisableBatching, or platforms without mmsg calls) it
// reads one datagram per call. On a *net.UDPConn both modes ask the kernel
// for the destination address (IP_PKTINFO / IPV6_PKTINFO), the TOS or
// traffic class and the TTL or hop limit where the platform delivers them.
// Socket.Batching reports the mode chosen for each socket.
//
// # Wildcard addresses
//
// A wildcard local address (0.0.0.0, ::) serves every address of its
// family. On the real network on Linux it is one socket: received
// datagrams carry their local address from IP_PKTINFO / IPV6_PKTINFO in
// Meta.Local, and a datagram sent from a specific address leaves from it
// (the same control message on send, in batched and segmented sends too),
// so that a reply leaves from the address the peer sent to. Elsewhere it
// is bound as one socket per host address (Config.HostAddrs). See
// Config.LocalAddrs and Transport.Serves.
package udpencap
