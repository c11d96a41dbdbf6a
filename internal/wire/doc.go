// Package wire encodes and decodes the parts of SCTP packets (RFC 9260
// section 3) that the stack itself builds or reads: the common header, the
// CRC32c checksum, chunk and parameter iteration with every length checked,
// the handshake and heartbeat chunks, ABORT/ERROR and cheap peeks at DATA,
// I-DATA and SACK.
//
// Every decoder treats its input as hostile: lengths are checked before any
// read, nothing panics, and the decoded values never alias a buffer the
// caller may reuse unless the function says so.
package wire
