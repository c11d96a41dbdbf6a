// Package pathdriver drives the paths of one SCTP association: it owns
// pathmgr's state machine, the record of the DATA sent and not yet
// acknowledged, per path, and the deadline of the association's one path
// timer. It is where pion's retransmissions and the stack's own meet.
//
// The Driver takes packets as the association sends and receives them:
//
//   - Route gets every packet pion writes and says which path it goes on;
//     DATA is recorded, and a TSN seen before (pion's RACK, tail-loss
//     probe or T3-rtx retransmission) goes to another path than those its
//     earlier copies were lost on (RFC 9260 section 6.4);
//   - OnSack gets every SACK before pion reads it, checks it acknowledges
//     nothing never sent (section 12.4) and credits the acknowledged DATA
//     to the paths it went on (sections 6.3.2 and 8.2);
//   - OnHeartbeatAck gets every HEARTBEAT ACK's Heartbeat Info (section
//     5.4: the nonce must be the one sent to that address);
//   - Tick, called at NextDeadline, fires pathmgr's timers and returns the
//     heartbeats to send, the DATA the Driver re-sends itself, the path
//     events and whether the association failed (section 8.1).
//
// Like pathmgr it owns no sockets, starts no goroutines and never reads
// the clock: every call takes the current time, and the caller keeps one
// timer set to NextDeadline. Output and NextDeadline may change after
// every call; the caller re-arms its timer after each.
//
// A Driver is not safe for concurrent use: its owner serializes the calls
// under one lock.
package pathdriver
