//go:build !unix

package harness

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// CPUTime is not measured on this system: the harness reports 0.
func CPUTime() time.Duration { return 0 }

// ConnectUDP is not available on this system: the pion-alone reference
// runs over connected UDP sockets on Unix only.
func ConnectUDP(c *net.UDPConn, peer netip.AddrPort) error {
	return errors.New("harness: connected UDP sockets need a Unix system")
}
