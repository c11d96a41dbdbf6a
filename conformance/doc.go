// Package conformance holds a conformance probe suite for the stack: a raw
// SCTP-in-UDP peer (RFC 6951) in the test files builds every packet
// itself with internal/wire, completes the handshake on its own as
// initiator against a listening sock.Endpoint and as responder to
// sock.Endpoint.Connect, and checks, one case per rule, the requirements
// of RFC 9260 sections 3.2, 3.3, 5.1, 5.2, 5.4, 6.2, 6.5, 6.10, 8.4 and 8.5
// and of RFC 6951 section 5.4 that can be observed on the wire or through
// the stack's public API (Associations, Paths, Event, Recv, Stats).
//
// Each case is named after its section and quotes the sentence it checks;
// run one with, for example,
//
//	go test ./conformance -run 'TestConformance/8.5.1-B'
//
// The package has no non-test code besides this comment and nothing
// imports it.
package conformance
