package wire

import "strconv"

// ChunkType is the 8-bit Chunk Type field of a chunk header
// (RFC 9260 section 3.2). Values follow the IANA "Chunk Types" registry.
type ChunkType uint8

// Chunk types this package names. RFC 9260 section 3.2 lists the base
// protocol's; the others come from the extension RFCs noted.
const (
	ChunkData             ChunkType = 0   // Payload Data (DATA)
	ChunkInit             ChunkType = 1   // Initiation (INIT)
	ChunkInitAck          ChunkType = 2   // Initiation Acknowledgement (INIT ACK)
	ChunkSack             ChunkType = 3   // Selective Acknowledgement (SACK)
	ChunkHeartbeat        ChunkType = 4   // Heartbeat Request (HEARTBEAT)
	ChunkHeartbeatAck     ChunkType = 5   // Heartbeat Acknowledgement (HEARTBEAT ACK)
	ChunkAbort            ChunkType = 6   // Abort (ABORT)
	ChunkShutdown         ChunkType = 7   // Shutdown (SHUTDOWN)
	ChunkShutdownAck      ChunkType = 8   // Shutdown Acknowledgement (SHUTDOWN ACK)
	ChunkError            ChunkType = 9   // Operation Error (ERROR)
	ChunkCookieEcho       ChunkType = 10  // State Cookie (COOKIE ECHO)
	ChunkCookieAck        ChunkType = 11  // Cookie Acknowledgement (COOKIE ACK)
	ChunkShutdownComplete ChunkType = 14  // Shutdown Complete (SHUTDOWN COMPLETE)
	ChunkAuth             ChunkType = 15  // Authentication (AUTH), RFC 4895
	ChunkIData            ChunkType = 64  // Payload Data supporting interleaving (I-DATA), RFC 8260
	ChunkAsconfAck        ChunkType = 128 // Address Configuration Acknowledgement (ASCONF-ACK), RFC 5061
	ChunkReconfig         ChunkType = 130 // Re-configuration (RE-CONFIG), RFC 6525
	ChunkPad              ChunkType = 132 // Padding (PAD), RFC 4820
	ChunkForwardTSN       ChunkType = 192 // Forward Cumulative TSN (FORWARD-TSN), RFC 3758
	ChunkAsconf           ChunkType = 193 // Address Configuration Change (ASCONF), RFC 5061
	ChunkIForwardTSN      ChunkType = 194 // I-FORWARD-TSN, RFC 8260
)

// String returns the chunk type's name as the RFCs spell it, or
// "ChunkType(n)" for a type this package does not name.
func (t ChunkType) String() string {
	switch t {
	case ChunkData:
		return "DATA"
	case ChunkInit:
		return "INIT"
	case ChunkInitAck:
		return "INIT-ACK"
	case ChunkSack:
		return "SACK"
	case ChunkHeartbeat:
		return "HEARTBEAT"
	case ChunkHeartbeatAck:
		return "HEARTBEAT-ACK"
	case ChunkAbort:
		return "ABORT"
	case ChunkShutdown:
		return "SHUTDOWN"
	case ChunkShutdownAck:
		return "SHUTDOWN-ACK"
	case ChunkError:
		return "ERROR"
	case ChunkCookieEcho:
		return "COOKIE-ECHO"
	case ChunkCookieAck:
		return "COOKIE-ACK"
	case ChunkShutdownComplete:
		return "SHUTDOWN-COMPLETE"
	case ChunkAuth:
		return "AUTH"
	case ChunkIData:
		return "I-DATA"
	case ChunkAsconfAck:
		return "ASCONF-ACK"
	case ChunkReconfig:
		return "RE-CONFIG"
	case ChunkPad:
		return "PAD"
	case ChunkForwardTSN:
		return "FORWARD-TSN"
	case ChunkAsconf:
		return "ASCONF"
	case ChunkIForwardTSN:
		return "I-FORWARD-TSN"
	}
	return "ChunkType(" + strconv.Itoa(int(t)) + ")"
}

// Chunk flag bits used by the chunks this package encodes.
const (
	// FlagT is the T bit of ABORT and SHUTDOWN COMPLETE (RFC 9260 sections
	// 3.3.7 and 3.3.13): "The T bit is set to 0 if the sender filled in the
	// Verification Tag expected by the peer. If the Verification Tag is
	// reflected, the T bit MUST be set to 1."
	FlagT uint8 = 0x01

	// FlagDataEnd, FlagDataBeginning, FlagDataUnordered and
	// FlagDataImmediate are the E, B, U and I bits of DATA (RFC 9260
	// section 3.3.1, RFC 7053) and I-DATA (RFC 8260).
	FlagDataEnd       uint8 = 0x01
	FlagDataBeginning uint8 = 0x02
	FlagDataUnordered uint8 = 0x04
	FlagDataImmediate uint8 = 0x08
)

// ParamType is the 16-bit Parameter Type of an optional or variable-length
// parameter (RFC 9260 section 3.2.1). Values follow the IANA "Chunk
// Parameter Types" registry.
type ParamType uint16

// Parameter types this package names.
const (
	ParamHeartbeatInfo         ParamType = 1      // Heartbeat Info, RFC 9260 section 3.3.5
	ParamIPv4Address           ParamType = 5      // IPv4 Address, RFC 9260 section 3.3.2.1
	ParamIPv6Address           ParamType = 6      // IPv6 Address
	ParamStateCookie           ParamType = 7      // State Cookie, RFC 9260 section 3.3.3.1
	ParamUnrecognized          ParamType = 8      // Unrecognized Parameter
	ParamCookiePreservative    ParamType = 9      // Cookie Preservative
	ParamHostNameAddress       ParamType = 11     // Host Name Address (deprecated)
	ParamSupportedAddressTypes ParamType = 12     // Supported Address Types
	ParamOutgoingResetRequest  ParamType = 13     // Outgoing SSN Reset Request, RFC 6525
	ParamIncomingResetRequest  ParamType = 14     // Incoming SSN Reset Request, RFC 6525
	ParamSSNTSNResetRequest    ParamType = 15     // SSN/TSN Reset Request, RFC 6525
	ParamReconfigResponse      ParamType = 16     // Re-configuration Response, RFC 6525
	ParamAddOutgoingStreams    ParamType = 17     // Add Outgoing Streams Request, RFC 6525
	ParamAddIncomingStreams    ParamType = 18     // Add Incoming Streams Request, RFC 6525
	ParamECN                   ParamType = 0x8000 // ECN Capable
	ParamZeroChecksum          ParamType = 0x8001 // Zero Checksum Acceptable, RFC 9653
	ParamRandom                ParamType = 0x8002 // Random, RFC 4895
	ParamChunkList             ParamType = 0x8003 // Chunk List, RFC 4895
	ParamRequestedHMAC         ParamType = 0x8004 // Requested HMAC Algorithm, RFC 4895
	ParamPadding               ParamType = 0x8005 // Padding, RFC 4820
	ParamSupportedExtensions   ParamType = 0x8008 // Supported Extensions, RFC 5061
	ParamForwardTSNSupported   ParamType = 0xC000 // Forward-TSN-Supported, RFC 3758
	ParamAddIPAddress          ParamType = 0xC001 // Add IP Address, RFC 5061
	ParamDeleteIPAddress       ParamType = 0xC002 // Delete IP Address, RFC 5061
	ParamErrorCauseIndication  ParamType = 0xC003 // Error Cause Indication, RFC 5061
	ParamSetPrimaryAddress     ParamType = 0xC004 // Set Primary Address, RFC 5061
	ParamSuccessIndication     ParamType = 0xC005 // Success Indication, RFC 5061
	ParamAdaptationLayerInd    ParamType = 0xC006 // Adaptation Layer Indication, RFC 5061
)

// String returns the parameter type's name, or "ParamType(n)" for a type
// this package does not name.
func (t ParamType) String() string {
	switch t {
	case ParamHeartbeatInfo:
		return "Heartbeat Info"
	case ParamIPv4Address:
		return "IPv4 Address"
	case ParamIPv6Address:
		return "IPv6 Address"
	case ParamStateCookie:
		return "State Cookie"
	case ParamUnrecognized:
		return "Unrecognized Parameter"
	case ParamCookiePreservative:
		return "Cookie Preservative"
	case ParamHostNameAddress:
		return "Host Name Address"
	case ParamSupportedAddressTypes:
		return "Supported Address Types"
	case ParamOutgoingResetRequest:
		return "Outgoing SSN Reset Request"
	case ParamIncomingResetRequest:
		return "Incoming SSN Reset Request"
	case ParamSSNTSNResetRequest:
		return "SSN/TSN Reset Request"
	case ParamReconfigResponse:
		return "Re-configuration Response"
	case ParamAddOutgoingStreams:
		return "Add Outgoing Streams Request"
	case ParamAddIncomingStreams:
		return "Add Incoming Streams Request"
	case ParamECN:
		return "ECN Capable"
	case ParamZeroChecksum:
		return "Zero Checksum Acceptable"
	case ParamRandom:
		return "Random"
	case ParamChunkList:
		return "Chunk List"
	case ParamRequestedHMAC:
		return "Requested HMAC Algorithm"
	case ParamPadding:
		return "Padding"
	case ParamSupportedExtensions:
		return "Supported Extensions"
	case ParamForwardTSNSupported:
		return "Forward-TSN-Supported"
	case ParamAddIPAddress:
		return "Add IP Address"
	case ParamDeleteIPAddress:
		return "Delete IP Address"
	case ParamErrorCauseIndication:
		return "Error Cause Indication"
	case ParamSetPrimaryAddress:
		return "Set Primary Address"
	case ParamSuccessIndication:
		return "Success Indication"
	case ParamAdaptationLayerInd:
		return "Adaptation Layer Indication"
	}
	return "ParamType(" + strconv.Itoa(int(t)) + ")"
}

// CauseCode is the 16-bit Cause Code of an error cause carried in ABORT and
// ERROR chunks (RFC 9260 section 3.3.10).
type CauseCode uint16

// Error cause codes of RFC 9260 section 3.3.10.
const (
	CauseInvalidStreamID         CauseCode = 1   // Invalid Stream Identifier
	CauseMissingMandatoryParam   CauseCode = 2   // Missing Mandatory Parameter
	CauseStaleCookie             CauseCode = 3   // Stale Cookie Error
	CauseOutOfResource           CauseCode = 4   // Out of Resource
	CauseUnresolvableAddress     CauseCode = 5   // Unresolvable Address
	CauseUnrecognizedChunkType   CauseCode = 6   // Unrecognized Chunk Type
	CauseInvalidMandatoryParam   CauseCode = 7   // Invalid Mandatory Parameter
	CauseUnrecognizedParams      CauseCode = 8   // Unrecognized Parameters
	CauseNoUserData              CauseCode = 9   // No User Data
	CauseCookieWhileShuttingDown CauseCode = 10  // Cookie Received While Shutting Down
	CauseRestartWithNewAddresses CauseCode = 11  // Restart of an Association with New Addresses
	CauseUserInitiatedAbort      CauseCode = 12  // User-Initiated Abort
	CauseProtocolViolation       CauseCode = 13  // Protocol Violation
	CauseUnsupportedHMAC         CauseCode = 261 // Unsupported HMAC Identifier, RFC 4895
)

// String returns the cause's name as RFC 9260 section 3.3.10 spells it, or
// "CauseCode(n)" for a code this package does not name.
func (c CauseCode) String() string {
	switch c {
	case CauseInvalidStreamID:
		return "Invalid Stream Identifier"
	case CauseMissingMandatoryParam:
		return "Missing Mandatory Parameter"
	case CauseStaleCookie:
		return "Stale Cookie Error"
	case CauseOutOfResource:
		return "Out of Resource"
	case CauseUnresolvableAddress:
		return "Unresolvable Address"
	case CauseUnrecognizedChunkType:
		return "Unrecognized Chunk Type"
	case CauseInvalidMandatoryParam:
		return "Invalid Mandatory Parameter"
	case CauseUnrecognizedParams:
		return "Unrecognized Parameters"
	case CauseNoUserData:
		return "No User Data"
	case CauseCookieWhileShuttingDown:
		return "Cookie Received While Shutting Down"
	case CauseRestartWithNewAddresses:
		return "Restart of an Association with New Addresses"
	case CauseUserInitiatedAbort:
		return "User-Initiated Abort"
	case CauseProtocolViolation:
		return "Protocol Violation"
	case CauseUnsupportedHMAC:
		return "Unsupported HMAC Identifier"
	}
	return "CauseCode(" + strconv.Itoa(int(c)) + ")"
}
