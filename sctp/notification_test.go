package sctp

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

var ne = binary.NativeEndian

// checkHeader checks the struct sctp_tlv at the start of b.
func checkHeader(t *testing.T, b []byte, typ SCTPNotificationType, flags uint16) {
	t.Helper()
	require.GreaterOrEqual(t, len(b), notificationHeaderSize)
	require.Equal(t, uint16(typ), ne.Uint16(b[0:]), "sn_type")
	require.Equal(t, flags, ne.Uint16(b[2:]), "sn_flags")
	require.Equal(t, uint32(len(b)), ne.Uint32(b[4:]), "sn_length")
}

// The offsets below are those of linux/sctp.h's structures on every Linux
// architecture (all fields are naturally aligned; sctp_paddr_change is
// packed and 4-aligned).

func TestAssocChangeLayout(t *testing.T) {
	b := assocChange(SCTP_SHUTDOWN_COMP, 7, 10, 20, 42)
	require.Len(t, b, 20)
	checkHeader(t, b, SCTP_ASSOC_CHANGE, 0)
	require.Equal(t, uint16(SCTP_SHUTDOWN_COMP), ne.Uint16(b[8:]), "sac_state")
	require.Equal(t, uint16(7), ne.Uint16(b[10:]), "sac_error")
	require.Equal(t, uint16(10), ne.Uint16(b[12:]), "sac_outbound_streams")
	require.Equal(t, uint16(20), ne.Uint16(b[14:]), "sac_inbound_streams")
	require.Equal(t, uint32(42), ne.Uint32(b[16:]), "sac_assoc_id")
}

func TestPaddrChangeLayout(t *testing.T) {
	b := paddrChange(netip.MustParseAddr("10.1.2.3"), 38412, SCTP_ADDR_UNREACHABLE, 0, 9)
	require.Len(t, b, 148)
	checkHeader(t, b, SCTP_PEER_ADDR_CHANGE, 0)
	require.Equal(t, uint16(afInet), ne.Uint16(b[8:]), "sin_family")
	require.Equal(t, uint16(38412), binary.BigEndian.Uint16(b[10:]), "sin_port in network order")
	require.Equal(t, []byte{10, 1, 2, 3}, b[12:16], "sin_addr")
	require.Equal(t, uint32(SCTP_ADDR_UNREACHABLE), ne.Uint32(b[136:]), "spc_state")
	require.Equal(t, uint32(0), ne.Uint32(b[140:]), "spc_error")
	require.Equal(t, uint32(9), ne.Uint32(b[144:]), "spc_assoc_id")

	b = paddrChange(netip.MustParseAddr("2001:db8::1"), 1, SCTP_ADDR_CONFIRMED, 0, 9)
	require.Len(t, b, 148)
	require.Equal(t, uint16(afInet6), ne.Uint16(b[8:]), "sin6_family")
	require.Equal(t, uint16(1), binary.BigEndian.Uint16(b[10:]), "sin6_port")
	require.Equal(t, netip.MustParseAddr("2001:db8::1").AsSlice(), b[16:32], "sin6_addr")
	require.Equal(t, uint32(SCTP_ADDR_CONFIRMED), ne.Uint32(b[136:]))
}

func TestRemoteErrorLayout(t *testing.T) {
	b := remoteError(0x0001, 5, []byte{1, 2, 3, 4})
	require.Len(t, b, 20)
	checkHeader(t, b, SCTP_REMOTE_ERROR, 0)
	require.Equal(t, uint16(1), binary.BigEndian.Uint16(b[8:]), "sre_error is __be16")
	require.Equal(t, uint32(5), ne.Uint32(b[12:]), "sre_assoc_id")
	require.Equal(t, []byte{1, 2, 3, 4}, b[16:], "sre_data")

	big := remoteError(1, 5, make([]byte, maxNotificationData+100))
	require.Len(t, big, remoteErrorSize+maxNotificationData, "the data is bounded")
}

func TestSendFailedLayout(t *testing.T) {
	info := SndRcvInfo{Stream: 3, PPID: kernelOrder(60), Context: 0xabcd, AssocID: 8}
	b := sendFailed(SCTP_DATA_SENT, 0, info, 8, []byte("lost"))
	require.Len(t, b, 52)
	checkHeader(t, b, SCTP_SEND_FAILED, SCTP_DATA_SENT)
	require.Equal(t, uint32(0), ne.Uint32(b[8:]), "ssf_error")
	got := unmarshalSndRcvInfo(b[12:44])
	require.Equal(t, info, got, "ssf_info")
	require.Equal(t, []byte{0, 0, 0, 60}, b[12+8:12+12], "the PPID holds the wire's bytes, as the kernel's")
	require.Equal(t, uint32(8), ne.Uint32(b[44:]), "ssf_assoc_id")
	require.Equal(t, "lost", string(b[48:]), "ssf_data")
}

func TestShutdownAndSenderDryLayout(t *testing.T) {
	b := shutdownEvent(77)
	require.Len(t, b, 12)
	checkHeader(t, b, SCTP_SHUTDOWN_EVENT, 0)
	require.Equal(t, uint32(77), ne.Uint32(b[8:]))

	b = senderDryEvent(78)
	require.Len(t, b, 12)
	checkHeader(t, b, SCTP_SENDER_DRY_EVENT, 0)
	require.Equal(t, uint32(78), ne.Uint32(b[8:]))
}

// TestSndRcvInfoLayout: struct sctp_sndrcvinfo is 32 bytes, in host order.
func TestSndRcvInfoLayout(t *testing.T) {
	in := SndRcvInfo{Stream: 1, SSN: 2, Flags: SCTP_UNORDERED, PPID: 4, Context: 5, TTL: 6, TSN: 7, CumTSN: 8, AssocID: -9}
	b := in.marshal(nil)
	require.Len(t, b, sndRcvInfoSize)
	require.Equal(t, uint16(1), ne.Uint16(b[0:]))
	require.Equal(t, uint16(SCTP_UNORDERED), ne.Uint16(b[4:]))
	require.Equal(t, uint32(4), ne.Uint32(b[8:]))
	require.Equal(t, uint32(6), ne.Uint32(b[16:]))
	require.Equal(t, in, unmarshalSndRcvInfo(b))
}
