package pathdriver

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// heartbeatInfo is the stack's Heartbeat Info (RFC 9260 section 3.3.5: the
// sender's own, opaque to the peer): the 64-bit nonce of section 5.4, the
// send time, and the destination address the heartbeat went to ("a path
// indicator (to identify the address that the HEARTBEAT chunk is sent
// to)").
func heartbeatInfo(nonce uint64, sent time.Time, to netip.Addr) []byte {
	b := make([]byte, 0, 8+8+1+16)
	b = binary.BigEndian.AppendUint64(b, nonce)
	b = binary.BigEndian.AppendUint64(b, uint64(sent.UnixNano()))
	a := to.AsSlice()
	b = append(b, byte(len(a)))
	return append(b, a...)
}

// parseHeartbeatInfo reads what heartbeatInfo wrote; ok is false for
// anything else.
func parseHeartbeatInfo(b []byte) (nonce uint64, sent time.Time, to netip.Addr, ok bool) {
	if len(b) < 17 || len(b) != 17+int(b[16]) {
		return 0, time.Time{}, netip.Addr{}, false
	}
	to, ok = netip.AddrFromSlice(b[17:])
	return binary.BigEndian.Uint64(b), time.Unix(0, int64(binary.BigEndian.Uint64(b[8:]))), to, ok
}
