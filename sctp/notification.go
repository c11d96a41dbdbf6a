package sctp

import (
	"encoding/binary"
	"net/netip"
)

// The notifications SCTPRead returns are Linux's structures of RFC 6458
// section 6.1 byte for byte (linux/sctp.h), in host byte order except
// where Linux keeps a field in network byte order (the port of a socket
// address, sre_error, and the PPID inside sctp_send_failed's ssf_info,
// which holds the PPID as the kernel's sinfo_ppid does). A program parses
// them as it parses the kernel's.

// sac_state of sctp_assoc_change is SCTPState; spc_state of
// sctp_paddr_change is one of these (Linux's values).
const (
	// SCTP_ADDR_AVAILABLE: a failed path answered again (sock.EventPathUp).
	SCTP_ADDR_AVAILABLE = iota
	// SCTP_ADDR_UNREACHABLE: a path exceeded Path.Max.Retrans
	// (sock.EventPathDown).
	SCTP_ADDR_UNREACHABLE
	// SCTP_ADDR_REMOVED: not sent (the stack has no dynamic addresses).
	SCTP_ADDR_REMOVED
	// SCTP_ADDR_ADDED: not sent (the stack has no dynamic addresses).
	SCTP_ADDR_ADDED
	// SCTP_ADDR_MADE_PRIM: data now goes to this address
	// (sock.EventPrimaryChanged).
	SCTP_ADDR_MADE_PRIM
	// SCTP_ADDR_CONFIRMED: a HEARTBEAT confirmed the address
	// (sock.EventPathConfirmed).
	SCTP_ADDR_CONFIRMED
	// SCTP_ADDR_POTENTIALLY_FAILED: the path passed the potentially-failed
	// threshold (RFC 7829, sock.EventPathPotentiallyFailed).
	SCTP_ADDR_POTENTIALLY_FAILED
)

// ssf_flags of sctp_send_failed (Linux's values).
const (
	// SCTP_DATA_UNSENT: the message never left.
	SCTP_DATA_UNSENT = 0
	// SCTP_DATA_SENT: the message was sent but not acknowledged.
	SCTP_DATA_SENT = 1
)

// Sizes of the fixed parts of the notification structures.
const (
	notificationHeaderSize = 8
	assocChangeSize        = 20  // struct sctp_assoc_change without sac_info
	paddrChangeSize        = 148 // struct sctp_paddr_change (packed, aligned(4))
	remoteErrorSize        = 16  // struct sctp_remote_error without sre_data
	sendFailedSize         = 48  // struct sctp_send_failed without ssf_data
	shutdownEventSize      = 12  // struct sctp_shutdown_event
	senderDryEventSize     = 12  // struct sctp_sender_dry_event
	sockaddrStorageSize    = 128
)

// maxNotificationData bounds the data a notification carries (the
// undelivered message of sctp_send_failed, the causes of
// sctp_remote_error), so a queued notification costs at most about this.
const maxNotificationData = 64 << 10

// header appends the struct sctp_tlv (RFC 6458 section 6.1); total is the
// length of the whole notification.
func header(b []byte, typ SCTPNotificationType, flags uint16, total int) []byte {
	e := binary.NativeEndian
	b = e.AppendUint16(b, uint16(typ))
	b = e.AppendUint16(b, flags)
	return e.AppendUint32(b, uint32(total))
}

// assocChange encodes struct sctp_assoc_change (RFC 6458 section 6.1.1).
func assocChange(state SCTPState, code uint16, out, in uint16, id SCTPAssocID) []byte {
	e := binary.NativeEndian
	b := make([]byte, 0, assocChangeSize)
	b = header(b, SCTP_ASSOC_CHANGE, 0, assocChangeSize)
	b = e.AppendUint16(b, uint16(state))
	b = e.AppendUint16(b, code)
	b = e.AppendUint16(b, out)
	b = e.AppendUint16(b, in)
	return e.AppendUint32(b, uint32(id))
}

// paddrChange encodes struct sctp_paddr_change (RFC 6458 section 6.1.2):
// the address as a sockaddr_storage, then spc_state, spc_error and the
// association's identifier.
func paddrChange(addr netip.Addr, port uint16, state int32, code int32, id SCTPAssocID) []byte {
	e := binary.NativeEndian
	b := make([]byte, 0, paddrChangeSize)
	b = header(b, SCTP_PEER_ADDR_CHANGE, 0, paddrChangeSize)
	b = appendSockaddrStorage(b, addr, port)
	b = e.AppendUint32(b, uint32(state))
	b = e.AppendUint32(b, uint32(code))
	return e.AppendUint32(b, uint32(id))
}

// appendSockaddrStorage appends the address as a 128-byte struct
// sockaddr_storage.
func appendSockaddrStorage(b []byte, addr netip.Addr, port uint16) []byte {
	n := len(b)
	if addr.IsValid() {
		b = appendSockaddr(b, addr, port)
	}
	return append(b, make([]byte, sockaddrStorageSize-(len(b)-n))...)
}

// remoteError encodes struct sctp_remote_error (RFC 6458 section 6.1.3):
// sre_error is the cause code in network byte order, as Linux keeps it;
// sre_data the cause's information (after its 4-byte header).
func remoteError(cause uint16, id SCTPAssocID, data []byte) []byte {
	data = data[:min(len(data), maxNotificationData)]
	total := remoteErrorSize + len(data)
	b := make([]byte, 0, total)
	b = header(b, SCTP_REMOTE_ERROR, 0, total)
	b = binary.BigEndian.AppendUint16(b, cause)
	b = append(b, 0, 0) // padding before sre_assoc_id
	b = binary.NativeEndian.AppendUint32(b, uint32(id))
	return append(b, data...)
}

// sendFailed encodes struct sctp_send_failed (RFC 6458 section 6.1.4, the
// form Linux sends for SCTP_EVENT_SEND_FAILURE): ssf_error, the message's
// sctp_sndrcvinfo, the association and the undelivered message.
func sendFailed(flags uint16, code uint32, info SndRcvInfo, id SCTPAssocID, data []byte) []byte {
	data = data[:min(len(data), maxNotificationData)]
	total := sendFailedSize + len(data)
	b := make([]byte, 0, total)
	b = header(b, SCTP_SEND_FAILED, flags, total)
	b = binary.NativeEndian.AppendUint32(b, code)
	b = info.marshal(b)
	b = binary.NativeEndian.AppendUint32(b, uint32(id))
	return append(b, data...)
}

// shutdownEvent encodes struct sctp_shutdown_event (RFC 6458 section
// 6.1.5).
func shutdownEvent(id SCTPAssocID) []byte {
	b := make([]byte, 0, shutdownEventSize)
	b = header(b, SCTP_SHUTDOWN_EVENT, 0, shutdownEventSize)
	return binary.NativeEndian.AppendUint32(b, uint32(id))
}

// senderDryEvent encodes struct sctp_sender_dry_event (RFC 6458 section
// 6.1.11).
func senderDryEvent(id SCTPAssocID) []byte {
	b := make([]byte, 0, senderDryEventSize)
	b = header(b, SCTP_SENDER_DRY_EVENT, 0, senderDryEventSize)
	return binary.NativeEndian.AppendUint32(b, uint32(id))
}
