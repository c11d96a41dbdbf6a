// Package sctp is the API of github.com/ishidawataru/sctp over this
// module's SCTP stack in user space (package sock, SCTP over UDP, RFC
// 6951): a Go program written for kernel SCTP with that package switches
// by changing its import path. The names, fields, signatures and behaviour
// are that package's on Linux: SCTPAddr and ResolveSCTPAddr
// ("10.0.0.1/10.0.0.2:3868"), ListenSCTP, DialSCTP and their Ext forms,
// SocketConfig, SCTPListener.Accept returning a net.Conn, SCTPConn with
// SCTPRead/SCTPWrite and SndRcvInfo, SetDefaultSentParam,
// SubscribeEvents and the notifications, SCTPSndRcvInfoWrappedConn.
//
// # Behaviour
//
// Each Read or SCTPRead returns one message, or as much as fits in the
// buffer and the rest in the next reads; each Write one message. Close is
// a graceful shutdown (RFC 9260 section 9.2). After the peer's shutdown
// and the last message, Read returns io.EOF. Deadlines work (the kernel
// package returns EOPNOTSUPP for them).
//
// The PPID is in host byte order in SCTPWrite and SCTPRead (60 is NGAP's)
// and in the kernel's order in SetDefaultSentParam (0x3c000000 on a
// little-endian host), as the original package has it since May 2025;
// USOCK_SCTP_PPID=kernel or SetKernelPPID(true) gives the older
// behaviour, the kernel's order everywhere. See SndRcvInfo.
//
// Notifications subscribed with SubscribeEvents come through SCTPRead as
// the Linux structures (sctp_assoc_change, sctp_paddr_change,
// sctp_remote_error, sctp_send_failed, sctp_shutdown_event,
// sctp_sender_dry_event; see NotificationHeader), or go to the
// SocketConfig's NotificationHandler. They come from the stack's
// association events (sock.Event).
//
// What the stack cannot report is zero and says so in its doc comment
// (SndRcvInfo.SSN, TSN, CumTSN; Status.Unackdata, Penddata). What has no
// meaning without a kernel socket (SyscallConn, Getsockopt, PeelOff,
// FileListener, ...) returns an error matching ErrUnsupported.
//
// Errors wrap package sock's sentinels and, where Linux has one, the
// kernel's errno: a refused INIT matches syscall.ECONNREFUSED, a handshake
// without answer syscall.ETIMEDOUT, a read after an ABORT
// syscall.ECONNRESET, an empty message or a bad argument syscall.EINVAL.
//
// # Configuration
//
// Every listener and connection is an endpoint of a sock.Stack: the one
// given in SocketConfig.Stack, else the one set with SetStack, else one on
// the UDP port USOCK_UDP_PORT, else sock.Default() (UDP port 9899). A
// Dial sends its INIT to the peer's UDP port SocketConfig.PeerUDPPort,
// else SetPeerUDPPort's, else USOCK_PEER_UDP_PORT, else 9899 (then it is
// learned from the peer's packets, RFC 6951 section 5.4). So an unmodified
// program is pointed at a peer with the environment:
//
//	USOCK_UDP_PORT       local UDP encapsulation port (default 9899)
//	USOCK_PEER_UDP_PORT  the peers' UDP encapsulation port (default 9899)
//	USOCK_SCTP_PPID      "host" (default) or "kernel": the PPID byte order
//
// The variables are read at the first Listen, Dial or setter call; a
// malformed one makes every Listen and Dial fail with an error naming it.
//
// Each listener is one endpoint that accepts every INIT (sock bounds the
// associations not accepted yet); each dialed connection is an endpoint of
// its own. Listen and Dial without an address use the wildcard address.
// The INIT parameters are InitMsg's (zero: 10 outbound streams, 16
// inbound streams, 8 retransmissions).
package sctp
