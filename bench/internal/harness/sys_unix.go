//go:build unix

package harness

import (
	"net"
	"net/netip"
	"syscall"
	"time"
)

// CPUTime returns the user plus system CPU time of this process.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ConnectUDP connects an open UDP socket to the peer (connect(2)): from
// then on it only exchanges datagrams with the peer, and Read and Write
// work on it like on a socket from net.DialUDP.
func ConnectUDP(c *net.UDPConn, peer netip.AddrPort) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = rc.Control(func(fd uintptr) {
		cerr = syscall.Connect(int(fd), &syscall.SockaddrInet4{Port: int(peer.Port()), Addr: peer.Addr().As4()})
	})
	if err != nil {
		return err
	}
	return cerr
}
