// Package sock is a userspace SCTP stack (RFC 9260) whose packets travel
// as UDP payloads (RFC 6951, UDP encapsulation, port 9899 by default):
// endpoints, associations and paths, in the model of Erlang's sock
// library, whose calls the doc comments name ("Erlang sock's
// create_assoc"). The data engine under each association is a
// pion/sctp association; the handshake, the addresses, the checks on
// every inbound packet and path management are this package's.
//
// # Usage
//
// A Stack owns the UDP sockets; an Endpoint is a set of local addresses
// and an SCTP port on it; an Association joins an endpoint and a peer
// endpoint over one or more paths:
//
//	stack, err := sock.NewStack()
//	server, err := stack.NewEndpoint(nil, 3868, sock.AcceptMax(16))
//	client, err := stack.NewEndpoint(nil, 0)
//	assoc, err := client.Connect(ctx, []netip.Addr{peer}, 3868)
//	err = assoc.Send(ctx, payload, sock.SendInfo{Stream: 1, PPID: 46})
//	msg, err := server.Recv(ctx)
//
// In the default receive mode (RecvPerEndpoint) Endpoint.Recv returns the
// messages of every association of the endpoint; with RecvPerAssociation
// each association has its own queue (Association.Recv, Endpoint.Accept),
// which Conn and Listener use to give one net.Conn per association.
// Endpoint.Event returns what happens to the associations (EventUp,
// EventDown, path changes, send failures, ...).
//
// # Cancellation
//
// Every call that waits takes a context.Context and returns ctx.Err()
// (wrapped) when it is done first: Connect (the association attempt is
// then aborted), Send (while the peer's window or the stream's lock makes
// it wait), Recv, Accept, Event and Shutdown (the association is then
// aborted). Closing the endpoint or the stack ends the waits on them too.
//
// # Concurrency
//
// Stack, Endpoint, Association, Conn and Listener are safe for use by
// several goroutines at once. Sends on one stream are serialized; sends on
// different streams go in parallel. Inside the package, each part of an
// association's state has one owner file, and the doc comment of each
// sub-state names its lock and the goroutines that enter it: the socket
// reader (the receive path), pion's read and write loops (through the
// shim), the path timer, one reader per stream, the accept loop, pion's
// close callback and the user's calls.
//
// Lock order: a multipath's mp.mu, then an association's a.mu, then its
// endpoint's e.mu; no goroutine takes them the other way round. The
// lifecycle's lock, the shim's queue lock and the send and receive
// trackers' locks are leaves: nothing else is locked while one is held.
//
// # Errors
//
// Errors wrap one of the sentinel errors (ErrClosed, ErrAborted,
// ErrNotEstablished, ErrInvalidArgument, ...): test them with errors.Is.
// Calls made on an association after it closed return an error wrapping a
// *CloseError, which says why (DownReason, detail, the peer's ABORT
// cause) and matches ErrClosed, and ErrAborted unless the association
// shut down gracefully. Texts name the operation once: "sock: send on
// association 3: association down: aborted by peer: ...".
package sock
