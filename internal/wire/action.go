package wire

// UnrecognizedAction is what RFC 9260 requires of an endpoint that meets a
// chunk or parameter type it does not recognise. The action is carried in
// the two highest-order bits of the type itself.
type UnrecognizedAction struct {
	// Stop means: for a chunk, stop processing the SCTP packet and discard
	// it; for a parameter, stop processing this parameter and the rest of
	// the chunk's parameters. When false the item is skipped and processing
	// continues.
	Stop bool
	// Report means the unrecognised item must be reported: a chunk in an
	// ERROR chunk with an "Unrecognized Chunk Type" cause, a parameter as an
	// "Unrecognized Parameter" (RFC 9260 section 3.2.2).
	Report bool
}

// unrecognizedActions is indexed by the two highest-order bits of a chunk
// type (RFC 9260 section 3.2) or of a parameter type (section 3.2.1); the
// meaning of each pair is the same for both, only the scope of "stop"
// differs.
//
// RFC 9260 section 3.2 (the wording is RFC 4960's, which RFC 9260 keeps in
// substance):
//
//	Chunk Types are encoded such that the highest-order 2 bits specify
//	the action that must be taken if the processing endpoint does not
//	recognize the Chunk Type.
//
//	00 - Stop processing this SCTP packet and discard it, do not
//	     process any further chunks within it.
//	01 - Stop processing this SCTP packet and discard it, do not
//	     process any further chunks within it, and report the
//	     unrecognized chunk in an 'Unrecognized Chunk Type'.
//	10 - Skip this chunk and continue processing.
//	11 - Skip this chunk and continue processing, but report in an
//	     ERROR chunk using the 'Unrecognized Chunk Type' cause of
//	     error.
//
// RFC 9260 section 3.2.1:
//
//	The Parameter Types are encoded such that the highest-order 2 bits
//	specify the action that must be taken if the processing endpoint
//	does not recognize the Parameter Type.
//
//	00 - Stop processing this parameter; do not process any further
//	     parameters within this chunk.
//	01 - Stop processing this parameter, do not process any further
//	     parameters within this chunk, and report the unrecognized
//	     parameter in an 'Unrecognized Parameter', as described in
//	     Section 3.2.2.
//	10 - Skip this parameter and continue processing.
//	11 - Skip this parameter and continue processing but report the
//	     unrecognized parameter in an 'Unrecognized Parameter', as
//	     described in Section 3.2.2.
var unrecognizedActions = [4]UnrecognizedAction{
	0b00: {Stop: true, Report: false},
	0b01: {Stop: true, Report: true},
	0b10: {Stop: false, Report: false},
	0b11: {Stop: false, Report: true},
}

// ChunkAction returns the action RFC 9260 section 3.2 requires for a chunk
// of type t when t is not recognised. It says nothing about whether t is
// recognised; see KnownChunk.
func ChunkAction(t ChunkType) UnrecognizedAction {
	return unrecognizedActions[t>>6]
}

// ParamAction returns the action RFC 9260 section 3.2.1 requires for a
// parameter of type t when t is not recognised, taken from the two
// highest-order bits of the 16-bit type.
func ParamAction(t ParamType) UnrecognizedAction {
	return unrecognizedActions[t>>14]
}

// knownChunks marks the chunk types that both this stack and pion/sctp
// process. Everything else is handled according to ChunkAction.
var knownChunks = [256]bool{
	ChunkData:             true,
	ChunkInit:             true,
	ChunkInitAck:          true,
	ChunkSack:             true,
	ChunkHeartbeat:        true,
	ChunkHeartbeatAck:     true,
	ChunkAbort:            true,
	ChunkShutdown:         true,
	ChunkShutdownAck:      true,
	ChunkError:            true,
	ChunkCookieEcho:       true,
	ChunkCookieAck:        true,
	ChunkShutdownComplete: true,
	ChunkIData:            true,
	ChunkReconfig:         true,
	ChunkForwardTSN:       true,
	ChunkIForwardTSN:      true,
}

// KnownChunk reports whether chunk type t is one this stack (and pion/sctp,
// which it interoperates with) understands: the RFC 9260 base chunks except
// the ECN-reserved types, plus I-DATA, RE-CONFIG, FORWARD-TSN and
// I-FORWARD-TSN. AUTH, ASCONF, ASCONF-ACK and PAD are not known.
func KnownChunk(t ChunkType) bool {
	return knownChunks[t]
}
