//go:build !linux

package udpencap

import "net/netip"

// sourceSelectSupported: outside Linux the transport does not choose the
// source address of a wildcard socket's datagrams (the BSDs spell it
// IP_SENDSRCADDR, Windows IN_PKTINFO through WSASendMsg, and x/net covers
// neither the same way); a wildcard address is bound as one socket per
// host address instead (see bindPlan).
const sourceSelectSupported = false

const srcControlSize = 0

func putSourceControl(b []byte, src netip.Addr, is4 bool) []byte { return nil }
