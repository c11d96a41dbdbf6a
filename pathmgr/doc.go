// Package pathmgr is a pure state machine for the path management of one
// SCTP association: per-path RTO estimation (RFC 9260 section 6.3), T3-rtx
// timers and the choice of an alternate path for retransmissions (6.4,
// 6.4.1), path and association failure detection (8.1, 8.2), heartbeats
// (8.3), path verification of unconfirmed addresses (5.4), the Potentially
// Failed state of RFC 7829 and primary path switchover.
//
// The Manager owns no sockets, starts no goroutines and never reads the
// clock: every method that depends on time takes the current time, and
// randomness (heartbeat jitter, heartbeat nonces) is injected through
// Config. The caller drives it like this:
//
//   - report events with DataSent, DataAcked, SackReceived and
//     HeartbeatAcked;
//   - call Tick at NextDeadline (or later) and carry out the returned
//     Actions in order;
//   - send new DATA on DataPath, and retransmissions where Retransmit
//     actions (or RetransmitPath) say.
//
// Actions caused by DataAcked, HeartbeatAcked, AddPath and SetPrimary are
// queued and returned by the next Tick; NextDeadline reports them as due at
// the time of the event that queued them.
//
// A Manager is not safe for concurrent use.
package pathmgr
