package sock

import "errors"

// Sentinel errors. Every error the package returns for one of these
// conditions wraps the sentinel, so callers test with errors.Is; where an
// OS error is the cause it is wrapped too.
var (
	// ErrNotFound: no endpoint, association or path matches (Erlang sock's
	// {error, not_found}).
	ErrNotFound = errors.New("not found")
	// ErrAddressInUse: the transport address (IP, SCTP port) belongs to
	// another endpoint (a wildcard address conflicts only with the same
	// wildcard; it coexists with specific ones), or the stack's UDP
	// encapsulation port is held by another socket (another process or
	// stack: the error says so, and that WithUDPPort gives another port).
	ErrAddressInUse = errors.New("address already in use")
	// ErrInvalidOption: an option value is out of range. Values are never
	// clamped silently.
	ErrInvalidOption = errors.New("invalid option")
	// ErrInvalidArgument: a bad argument to a call (an empty address list,
	// an address of an unusable kind, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrClosed: the stack, endpoint or association is closed.
	ErrClosed = errors.New("closed")
	// ErrRefused: the peer answered the INIT with an ABORT (nobody listens
	// at that port, or its accept policy refused us).
	ErrRefused = errors.New("association refused by peer")
	// ErrProtocolViolation: the peer's answer to our INIT breaks a rule of
	// RFC 9260 that ends the attempt: an INIT-ACK with an Initiate Tag, OS
	// or MIS of 0 (section 3.3.3), or one listing a Host Name Address,
	// which the stack does not resolve (section 5.1.2; the peer gets an
	// ABORT with an Unresolvable Address cause).
	ErrProtocolViolation = errors.New("protocol violation by peer")
	// ErrTimeout: the handshake got no answer after Max.Init.Retransmits
	// retransmissions.
	ErrTimeout = errors.New("handshake timed out")
	// ErrAborted: the association was aborted (by the peer, by the user or
	// after Association.Max.Retrans).
	ErrAborted = errors.New("association aborted")
	// ErrInvalidStream: the stream identifier is not below the negotiated
	// number of outbound streams.
	ErrInvalidStream = errors.New("invalid stream identifier")
	// ErrMessageTooBig: the message is bigger than the negotiated maximum.
	ErrMessageTooBig = errors.New("message too big")
	// ErrEmptyMessage: SCTP cannot carry a message of zero bytes (RFC 9260
	// section 3.3.1: a DATA chunk holds at least one byte).
	ErrEmptyMessage = errors.New("empty message")
	// ErrNotEstablished: the association is not (yet, or any more) in the
	// ESTABLISHED state.
	ErrNotEstablished = errors.New("association not established")
	// ErrRecvMode: the call does not match the endpoint's receive mode
	// (Endpoint.Recv on a RecvPerAssociation endpoint, Association.Recv or
	// Endpoint.Accept on a RecvPerEndpoint one).
	ErrRecvMode = errors.New("call does not match the endpoint's receive mode")
)
