package sctp

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSignatures pins the exported API to github.com/ishidawataru/sctp's
// signatures: a change that would break a program switching its import
// breaks the build of this test.
func TestSignatures(t *testing.T) {
	var (
		_ func(string, string) (*SCTPAddr, error)                              = ResolveSCTPAddr
		_ func(string, *SCTPAddr) (*SCTPListener, error)                       = ListenSCTP
		_ func(string, *SCTPAddr, InitMsg) (*SCTPListener, error)              = ListenSCTPExt
		_ func(string, *SCTPAddr, *SCTPAddr) (*SCTPConn, error)                = DialSCTP
		_ func(string, *SCTPAddr, *SCTPAddr, InitMsg) (*SCTPConn, error)       = DialSCTPExt
		_ func(*SocketConfig, string, *SCTPAddr) (*SCTPListener, error)        = (*SocketConfig).Listen
		_ func(*SocketConfig, string, *SCTPAddr, *SCTPAddr) (*SCTPConn, error) = (*SocketConfig).Dial
		_ func(int, NotificationHandler) *SCTPConn                             = NewSCTPConn
		_ func(*SCTPConn) *SCTPSndRcvInfoWrappedConn                           = NewSCTPSndRcvInfoWrappedConn
		_ func(int, *SCTPAddr, int) error                                      = SCTPBind
		_ func(int, *SCTPAddr) (int, error)                                    = SCTPConnect
		_ func(*os.File) (*SCTPListener, error)                                = FileListener

		_ func(*SCTPAddr) string = (*SCTPAddr).String
		_ func(*SCTPAddr) string = (*SCTPAddr).Network
		_ func(*SCTPAddr) []byte = (*SCTPAddr).ToRawSockAddrBuf

		_ net.Listener                                                         = (*SCTPListener)(nil)
		_ func(*SCTPListener) (*SCTPConn, error)                               = (*SCTPListener).AcceptSCTP
		_ func(*SCTPListener) (syscall.RawConn, error)                         = (*SCTPListener).SyscallConn
		_ net.Conn                                                             = (*SCTPConn)(nil)
		_ net.Conn                                                             = (*SCTPSndRcvInfoWrappedConn)(nil)
		_ func(*SCTPConn, []byte) (int, *SndRcvInfo, error)                    = (*SCTPConn).SCTPRead
		_ func(*SCTPConn, []byte, *SndRcvInfo) (int, error)                    = (*SCTPConn).SCTPWrite
		_ func(*SCTPConn, int) error                                           = (*SCTPConn).SubscribeEvents
		_ func(*SCTPConn) (int, error)                                         = (*SCTPConn).SubscribedEvents
		_ func(*SCTPConn) (*SndRcvInfo, error)                                 = (*SCTPConn).GetDefaultSentParam
		_ func(*SCTPConn, *SndRcvInfo) error                                   = (*SCTPConn).SetDefaultSentParam
		_ func(*SCTPConn, int, int, int, int) error                            = (*SCTPConn).SetInitMsg
		_ func(*SCTPConn) (*Status, error)                                     = (*SCTPConn).GetStatus
		_ func(*SCTPConn, int) error                                           = (*SCTPConn).SetReadBuffer
		_ func(*SCTPConn) (int, error)                                         = (*SCTPConn).GetReadBuffer
		_ func(*SCTPConn, int) error                                           = (*SCTPConn).SetWriteBuffer
		_ func(*SCTPConn) (int, error)                                         = (*SCTPConn).GetWriteBuffer
		_ func(*SCTPConn) (*SCTPAddr, error)                                   = (*SCTPConn).SCTPGetPrimaryPeerAddr
		_ func(*SCTPConn, int) (*SCTPAddr, error)                              = (*SCTPConn).SCTPLocalAddr
		_ func(*SCTPConn, int) (*SCTPAddr, error)                              = (*SCTPConn).SCTPRemoteAddr
		_ func(*SCTPConn, time.Time) error                                     = (*SCTPConn).SetDeadline
		_ func(*SCTPConn) (syscall.RawConn, error)                             = (*SCTPConn).SyscallConn
		_ func(*SCTPConn, *SackTimer) error                                    = (*SCTPConn).SetSackTimer
		_ func(*SCTPConn) (*SackTimer, error)                                  = (*SCTPConn).GetSackTimer
		_ func(*SCTPConn, uintptr, uintptr, uintptr) (uintptr, uintptr, error) = (*SCTPConn).Getsockopt
		_ func(*SCTPConn, uintptr, uintptr, uintptr) (uintptr, uintptr, error) = (*SCTPConn).Setsockopt
		_ func(*SCTPConn, int) (*SCTPConn, error)                              = (*SCTPConn).PeelOff
		_ func(*SCTPSndRcvInfoWrappedConn, int) error                          = (*SCTPSndRcvInfoWrappedConn).SetReadBuffer
		_ func(*SCTPSndRcvInfoWrappedConn) (int, error)                        = (*SCTPSndRcvInfoWrappedConn).GetWriteBuffer
	)
	// Field names and types programs set in composite literals.
	_ = SndRcvInfo{Stream: 0, SSN: 0, Flags: SCTP_UNORDERED, PPID: 0, Context: 0, TTL: 0, TSN: 0, CumTSN: 0, AssocID: 0}
	_ = InitMsg{NumOstreams: SCTP_MAX_STREAM, MaxInstreams: 0, MaxAttempts: 0, MaxInitTimeout: 0}
	_ = SocketConfig{InitMsg: InitMsg{}, NotificationHandler: func([]byte) error { return nil },
		Control: func(string, string, syscall.RawConn) error { return nil }}
	_ = SCTPAddr{IPAddrs: []net.IPAddr{}, Port: 0}
	_ = NotificationHeader{Type: uint16(SCTP_ASSOC_CHANGE), Flags: 0, Length: 0}
	_ = Status{AssocID: SCTPAssocID(0), State: SCTP_ESTABLISHED, PrimaryPeerAddr: PeerAddrinfo{State: SCTP_ACTIVE}}
	_ = EventSubscribe{DataIO: 1, SenderDry: 1}
	_ = []int{SCTP_EVENT_DATA_IO, SCTP_EVENT_ASSOCIATION, SCTP_EVENT_ADDRESS, SCTP_EVENT_SEND_FAILURE,
		SCTP_EVENT_PEER_ERROR, SCTP_EVENT_SHUTDOWN, SCTP_EVENT_PARTIAL_DELIVERY, SCTP_EVENT_ADAPTATION_LAYER,
		SCTP_EVENT_AUTHENTICATION, SCTP_EVENT_SENDER_DRY, SCTP_EVENT_ALL,
		SCTP_UNORDERED, SCTP_ADDR_OVER, SCTP_ABORT, SCTP_SACK_IMMEDIATELY, SCTP_EOF, MSG_NOTIFICATION}
	_ = []SCTPState{SCTP_COMM_UP, SCTP_COMM_LOST, SCTP_RESTART, SCTP_SHUTDOWN_COMP, SCTP_CANT_STR_ASSOC}
	if SCTP_EVENT_SENDER_DRY != 1<<9 || SCTP_EOF != 1<<4 || SCTP_SENDER_DRY_EVENT != 0x8009 || SCTP_STATUS != 14 {
		t.Fatal("constant values differ from Linux's")
	}
}
