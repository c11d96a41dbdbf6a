//go:build !linux

package udpencap

import "net"

const (
	maxGSOSegments = 1
	maxGSOBytes    = 0
)

var gsoControlSize = 0

// enableOffload: segmentation and receive offload are Linux only here.
func enableOffload(c *net.UDPConn) (gso, gro bool) { return false, false }

func putGSOControl(b []byte, size int) []byte { return nil }
