package sctp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Errors of the package. Calls that fail for one of these reasons return an
// error that errors.Is matches with it.
var (
	// ErrUnsupported: the call has no meaning for a socket in user space
	// over UDP encapsulation (there is no file descriptor, no kernel
	// socket option): SyscallConn, Getsockopt, Setsockopt, PeelOff,
	// SCTPBind, SCTPConnect, FileListener, NewSCTPConn, SetSackTimer,
	// GetSackTimer, and the RawConn given to SocketConfig.Control.
	ErrUnsupported = errors.New("sctp: not supported over UDP encapsulation (no kernel socket)")
	// ErrInvalidAddress: an address or port that cannot be used.
	ErrInvalidAddress = errors.New("sctp: invalid address")
	// ErrInvalidArgument: an argument out of range (the kernel's EINVAL,
	// which the error also matches).
	ErrInvalidArgument = errors.New("sctp: invalid argument")
)

// invalid wraps ErrInvalidArgument and syscall.EINVAL, so a program
// comparing with the kernel's error still matches.
func invalid(what string) error {
	return fmt.Errorf("sctp: %s: %w (%w)", what, ErrInvalidArgument, syscall.EINVAL)
}

// Socket-level constants of Linux's SCTP (RFC 6458), kept for programs
// that name them. The socket options themselves do not exist here: the
// methods of SCTPConn set what they set.
const (
	SOL_SCTP = 132

	SCTP_BINDX_ADD_ADDR = 0x01
	SCTP_BINDX_REM_ADDR = 0x02

	// MSG_NOTIFICATION is the recvmsg flag of a notification.
	MSG_NOTIFICATION = 0x8000
)

// Linux's SCTP socket option numbers (RFC 6458 section 8), for programs
// that name them.
const (
	SCTP_RTOINFO = iota
	SCTP_ASSOCINFO
	SCTP_INITMSG
	SCTP_NODELAY
	SCTP_AUTOCLOSE
	SCTP_SET_PEER_PRIMARY_ADDR
	SCTP_PRIMARY_ADDR
	SCTP_ADAPTATION_LAYER
	SCTP_DISABLE_FRAGMENTS
	SCTP_PEER_ADDR_PARAMS
	SCTP_DEFAULT_SENT_PARAM
	SCTP_EVENTS
	SCTP_I_WANT_MAPPED_V4_ADDR
	SCTP_MAXSEG
	SCTP_STATUS
	SCTP_GET_PEER_ADDR_INFO
	SCTP_DELAYED_ACK_TIME
	SCTP_DELAYED_ACK  = SCTP_DELAYED_ACK_TIME
	SCTP_DELAYED_SACK = SCTP_DELAYED_ACK_TIME

	SCTP_SOCKOPT_BINDX_ADD = 100
	SCTP_SOCKOPT_BINDX_REM = 101
	SCTP_SOCKOPT_PEELOFF   = 102
	SCTP_GET_PEER_ADDRS    = 108
	SCTP_GET_LOCAL_ADDRS   = 109
	SCTP_SOCKOPT_CONNECTX  = 110
	SCTP_SOCKOPT_CONNECTX3 = 111
)

// Event subscription flags for SCTPConn.SubscribeEvents, one per member of
// RFC 6458's struct sctp_event_subscribe (section 6.2.1, deprecated there
// but what Linux and these programs use).
const (
	// SCTP_EVENT_DATA_IO makes SCTPRead return the SndRcvInfo of each
	// message (without it SCTPRead returns a nil *SndRcvInfo, as Linux).
	SCTP_EVENT_DATA_IO = 1 << iota
	// SCTP_EVENT_ASSOCIATION: sctp_assoc_change notifications.
	SCTP_EVENT_ASSOCIATION
	// SCTP_EVENT_ADDRESS: sctp_paddr_change notifications.
	SCTP_EVENT_ADDRESS
	// SCTP_EVENT_SEND_FAILURE: sctp_send_failed notifications.
	SCTP_EVENT_SEND_FAILURE
	// SCTP_EVENT_PEER_ERROR: sctp_remote_error notifications.
	SCTP_EVENT_PEER_ERROR
	// SCTP_EVENT_SHUTDOWN: sctp_shutdown_event notifications.
	SCTP_EVENT_SHUTDOWN
	// SCTP_EVENT_PARTIAL_DELIVERY: accepted; the stack sends no partial
	// delivery notifications (a message too long for the buffer is read
	// in pieces by successive reads, never aborted).
	SCTP_EVENT_PARTIAL_DELIVERY
	// SCTP_EVENT_ADAPTATION_LAYER: accepted; the stack does not send the
	// Adaptation Layer Indication parameter nor report it.
	SCTP_EVENT_ADAPTATION_LAYER
	// SCTP_EVENT_AUTHENTICATION: accepted; the stack has no SCTP-AUTH.
	SCTP_EVENT_AUTHENTICATION
	// SCTP_EVENT_SENDER_DRY: sctp_sender_dry_event notifications, each
	// time everything sent is acknowledged. Linux also sends one at once
	// when the subscription finds nothing outstanding; this package does
	// not (the data engine does not say so at that moment).
	SCTP_EVENT_SENDER_DRY

	// SCTP_EVENT_ALL is every flag.
	SCTP_EVENT_ALL = SCTP_EVENT_DATA_IO | SCTP_EVENT_ASSOCIATION | SCTP_EVENT_ADDRESS | SCTP_EVENT_SEND_FAILURE | SCTP_EVENT_PEER_ERROR | SCTP_EVENT_SHUTDOWN | SCTP_EVENT_PARTIAL_DELIVERY | SCTP_EVENT_ADAPTATION_LAYER | SCTP_EVENT_AUTHENTICATION | SCTP_EVENT_SENDER_DRY
)

type (
	// SCTPNotificationType is the sn_type of a notification (RFC 6458
	// section 6.1), the first field of NotificationHeader.
	SCTPNotificationType int
	// SCTPAssocID identifies an association (sctp_assoc_t). The package
	// numbers its associations from 1, per process.
	SCTPAssocID int32
)

// Notification types, with Linux's values.
const (
	SCTP_SN_TYPE_BASE = SCTPNotificationType(iota + (1 << 15))
	SCTP_ASSOC_CHANGE
	SCTP_PEER_ADDR_CHANGE
	SCTP_SEND_FAILED
	SCTP_REMOTE_ERROR
	SCTP_SHUTDOWN_EVENT
	SCTP_PARTIAL_DELIVERY_EVENT
	SCTP_ADAPTATION_INDICATION
	SCTP_AUTHENTICATION_INDICATION
	SCTP_SENDER_DRY_EVENT
)

// NotificationHandler, when set (SocketConfig.NotificationHandler), gets
// each notification SCTPRead reads, instead of SCTPRead returning it: the
// bytes are the Linux notification structure (see NotificationHeader).
// SCTPRead then goes on reading; an error from the handler ends that
// SCTPRead with the error. It runs on the goroutine calling SCTPRead.
type NotificationHandler func([]byte) error

// EventSubscribe is RFC 6458's struct sctp_event_subscribe, one byte per
// kind of event (Linux's layout). SubscribeEvents takes the same choice as
// SCTP_EVENT_* flags.
type EventSubscribe struct {
	DataIO          uint8
	Association     uint8
	Address         uint8
	SendFailure     uint8
	PeerError       uint8
	Shutdown        uint8
	PartialDelivery uint8
	AdaptationLayer uint8
	Authentication  uint8
	SenderDry       uint8
}

// Control message types of RFC 6458 section 5.3, for programs that name
// them.
const (
	SCTP_CMSG_INIT = iota
	SCTP_CMSG_SNDRCV
	SCTP_CMSG_SNDINFO
	SCTP_CMSG_RCVINFO
	SCTP_CMSG_NXTINFO
)

// Flags of SndRcvInfo.Flags (RFC 6458 section 5.3.2, Linux's values).
const (
	// SCTP_UNORDERED sends the message unordered (the U bit of RFC 9260
	// section 3.3.1).
	SCTP_UNORDERED = 1 << iota
	// SCTP_ADDR_OVER is accepted and ignored: SCTPWrite takes no
	// destination address.
	SCTP_ADDR_OVER
	// SCTP_ABORT aborts the association (RFC 9260 section 9.1); the
	// message, if any, is the abort's reason.
	SCTP_ABORT
	// SCTP_SACK_IMMEDIATELY is accepted and ignored (the data engine
	// decides when to acknowledge).
	SCTP_SACK_IMMEDIATELY
	// SCTP_EOF sends the message, if any, then shuts the association
	// down gracefully (RFC 9260 section 9.2).
	SCTP_EOF
)

// SCTP_MAX_STREAM is the largest number of streams.
const SCTP_MAX_STREAM = 0xffff

// InitMsg holds the INIT parameters of new associations (RFC 6458 section
// 8.1.3, struct sctp_initmsg). Zero fields take the defaults: 10 outbound
// streams (Linux's), 16 inbound streams (the stack's, not Linux's 65535:
// each inbound stream in use costs the stack a goroutine, so a peer is not
// let make 65535), 8 INIT retransmissions.
type InitMsg struct {
	// NumOstreams is the number of outbound streams asked for (OS).
	NumOstreams uint16
	// MaxInstreams is the largest number of inbound streams accepted (MIS).
	MaxInstreams uint16
	// MaxAttempts is how many times the INIT is resent
	// (Max.Init.Retransmits), at most 255.
	MaxAttempts uint16
	// MaxInitTimeout (milliseconds) is accepted and not applied: the
	// stack caps its INIT timer at RTO.Max (sock.WithRTOMax), which also
	// caps the data retransmission timer, so a per-INIT cap (Linux's
	// max_init_timeo) has no place to go; the handshake backs off up to
	// RTO.Max (60 s) instead.
	MaxInitTimeout uint16
}

// SackTimer is RFC 6458 section 8.1.19's struct sctp_sack_info
// (SCTP_DELAYED_SACK). The data engine's acknowledgement timing is fixed:
// SetSackTimer and GetSackTimer return ErrUnsupported.
type SackTimer struct {
	AssocID       SCTPAssocID
	SackDelay     uint32
	SackFrequency uint32
}

// PeerState is the state of a peer address (RFC 6458 section 8.2.2,
// spinfo_state).
type PeerState int32

// Peer address states, Linux's values.
const (
	SCTP_UNCONFIRMED PeerState = iota
	SCTP_ACTIVE
	SCTP_INACTIVE
)

// PeerAddrinfo is RFC 6458 section 8.2.2's struct sctp_paddrinfo.
type PeerAddrinfo struct {
	AssocID SCTPAssocID
	// Address is the peer address as a Linux struct sockaddr_storage
	// (sockaddr_in or sockaddr_in6 at its start; see
	// SCTPConn.SCTPGetPrimaryPeerAddr for it as an SCTPAddr).
	Address [128]byte
	State   PeerState
	// CWND is the association's congestion window (the data engine keeps
	// one for the association, not one per path).
	CWND uint32
	// SRTT and RTO are the path's, in milliseconds.
	SRTT uint32
	RTO  uint32
	// MTU is the SCTP packet size the stack sends (without the UDP and IP
	// headers), not a measured path MTU.
	MTU uint32
}

// StatusState is the association state of Status (sstat_state), Linux's
// values.
type StatusState int32

// Association states.
const (
	SCTP_CLOSED StatusState = iota
	SCTP_BOUND
	SCTP_LISTEN
	SCTP_COOKIE_WAIT
	SCTP_COOKIE_ECHOED
	SCTP_ESTABLISHED
	SCTP_SHUTDOWN_PENDING
	SCTP_SHUTDOWN_SENT
	SCTP_SHUTDOWN_RECEIVED
	SCTP_SHUTDOWN_ACK_SENT
)

// Status is RFC 6458 section 8.2.1's struct sctp_status (SCTP_STATUS).
type Status struct {
	AssocID SCTPAssocID
	// State is SCTP_ESTABLISHED while the association is established.
	// The stack reports every shutdown state as SCTP_SHUTDOWN_PENDING.
	State StatusState
	// RWND is the peer's receive window.
	RWND uint32
	// Unackdata and Penddata are always zero: the data engine does not
	// report its unacknowledged and pending chunk counts.
	Unackdata uint16
	Penddata  uint16
	// Instreams and Ostreams are the negotiated numbers of streams.
	Instreams uint16
	Ostreams  uint16
	// FragmentationPoint is the largest user data in one DATA chunk.
	FragmentationPoint uint32
	PrimaryPeerAddr    PeerAddrinfo
}

// SndRcvInfo is RFC 6458 section 5.3.2's struct sctp_sndrcvinfo: the
// parameters of a message sent (SCTPWrite, SetDefaultSentParam) or
// received (SCTPRead).
//
// PPID byte order, as github.com/ishidawataru/sctp has it on Linux since
// May 2025: SCTPWrite takes and SCTPRead returns the PPID in host order
// (PPID 60 is 60 on the wire), while SetDefaultSentParam and
// GetDefaultSentParam pass the field as the kernel holds it, in network
// byte order: on a little-endian host the default PPID for NGAP is
// 0x3c000000. Programs written against older versions, which passed the
// kernel's value through in SCTPWrite and SCTPRead too (free5gc's
// ngap.PPID = 0x3c000000), set USOCK_SCTP_PPID=kernel or call
// SetKernelPPID(true).
type SndRcvInfo struct {
	// Stream is the stream identifier.
	Stream uint16
	// SSN is always zero on receive: the data engine does not report the
	// stream sequence number. Ignored on send.
	SSN uint16
	// Flags: SCTP_UNORDERED, SCTP_EOF, SCTP_ABORT, ... on send. On
	// receive always zero: the data engine does not report whether a
	// message came unordered.
	Flags uint16
	_     uint16
	// PPID is the Payload Protocol Identifier (see the byte order above).
	PPID uint32
	// Context is opaque; on send it comes back in the sctp_send_failed
	// notification of a message that could not be delivered. Zero on
	// receive.
	Context uint32
	// TTL is the message's lifetime in milliseconds on send (PR-SCTP,
	// RFC 3758, timed reliability; 0 for none). Zero on receive.
	TTL uint32
	// TSN and CumTSN are always zero: the data engine does not report
	// them.
	TSN    uint32
	CumTSN uint32
	// AssocID is the association's identifier on receive; ignored on send.
	AssocID int32
}

// sndRcvInfoSize is the size of struct sctp_sndrcvinfo, the prefix of
// every buffer of SCTPSndRcvInfoWrappedConn.
const sndRcvInfoSize = 32

// marshal appends the structure in host byte order, Linux's layout.
func (s *SndRcvInfo) marshal(b []byte) []byte {
	e := binary.NativeEndian
	b = e.AppendUint16(b, s.Stream)
	b = e.AppendUint16(b, s.SSN)
	b = e.AppendUint16(b, s.Flags)
	b = e.AppendUint16(b, 0)
	b = e.AppendUint32(b, s.PPID)
	b = e.AppendUint32(b, s.Context)
	b = e.AppendUint32(b, s.TTL)
	b = e.AppendUint32(b, s.TSN)
	b = e.AppendUint32(b, s.CumTSN)
	return e.AppendUint32(b, uint32(s.AssocID))
}

// unmarshalSndRcvInfo reads the structure marshal writes; b holds at least
// sndRcvInfoSize bytes.
func unmarshalSndRcvInfo(b []byte) SndRcvInfo {
	e := binary.NativeEndian
	return SndRcvInfo{
		Stream:  e.Uint16(b[0:]),
		SSN:     e.Uint16(b[2:]),
		Flags:   e.Uint16(b[4:]),
		PPID:    e.Uint32(b[8:]),
		Context: e.Uint32(b[12:]),
		TTL:     e.Uint32(b[16:]),
		TSN:     e.Uint32(b[20:]),
		CumTSN:  e.Uint32(b[24:]),
		AssocID: int32(e.Uint32(b[28:])),
	}
}

// SndInfo is RFC 6458 section 5.3.4's struct sctp_sndinfo, for programs
// that name it; the calls of this package take SndRcvInfo.
type SndInfo struct {
	SID     uint16
	Flags   uint16
	PPID    uint32
	Context uint32
	AssocID int32
}

// GetAddrsOld is Linux's struct sctp_getaddrs_old, for programs that name
// it.
type GetAddrsOld struct {
	AssocID int32
	AddrNum int32
	Addrs   uintptr
}

// NotificationHeader is the start of every notification (RFC 6458 section
// 6.1, struct sctp_tlv), in host byte order: Type is one of the
// SCTPNotificationType values, Length the length of the whole
// notification.
type NotificationHeader struct {
	Type   uint16
	Flags  uint16
	Length uint32
}

// SCTPState is the sac_state of an sctp_assoc_change notification (RFC
// 6458 section 6.1.1).
type SCTPState uint16

// Association change states, Linux's values.
const (
	SCTP_COMM_UP = SCTPState(iota)
	SCTP_COMM_LOST
	SCTP_RESTART
	SCTP_SHUTDOWN_COMP
	SCTP_CANT_STR_ASSOC
)
