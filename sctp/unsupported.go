package sctp

import (
	"fmt"
	"os"
	"syscall"
)

// The calls of github.com/ishidawataru/sctp that work on the kernel
// socket itself. Over UDP encapsulation in user space there is none: each
// returns an error matching ErrUnsupported.

func unsupported(call string) error {
	return fmt.Errorf("sctp: %s: %w", call, ErrUnsupported)
}

// SyscallConn returns ErrUnsupported: there is no file descriptor.
func (c *SCTPConn) SyscallConn() (syscall.RawConn, error) {
	return nil, unsupported("SyscallConn")
}

// Getsockopt returns ErrUnsupported: there is no kernel socket; the
// methods of SCTPConn read what the options read.
func (c *SCTPConn) Getsockopt(optname, optval, optlen uintptr) (uintptr, uintptr, error) {
	return 0, 0, unsupported("getsockopt")
}

// Setsockopt returns ErrUnsupported: there is no kernel socket; the
// methods of SCTPConn set what the options set.
func (c *SCTPConn) Setsockopt(optname, optval, optlen uintptr) (uintptr, uintptr, error) {
	return 0, 0, unsupported("setsockopt")
}

// PeelOff returns ErrUnsupported: every SCTPConn already has one
// association (one-to-one style).
func (c *SCTPConn) PeelOff(id int) (*SCTPConn, error) {
	return nil, unsupported("PeelOff")
}

// SetSackTimer returns ErrUnsupported: the data engine's delayed
// acknowledgement timing is fixed.
func (c *SCTPConn) SetSackTimer(timer *SackTimer) error {
	return unsupported("SetSackTimer")
}

// GetSackTimer returns ErrUnsupported (see SetSackTimer).
func (c *SCTPConn) GetSackTimer() (*SackTimer, error) {
	return nil, unsupported("GetSackTimer")
}

// SyscallConn returns ErrUnsupported: there is no file descriptor.
func (ln *SCTPListener) SyscallConn() (syscall.RawConn, error) {
	return nil, unsupported("SyscallConn")
}

// SCTPBind returns ErrUnsupported: there are no file descriptors; give
// the addresses to Listen or Dial.
func SCTPBind(fd int, addr *SCTPAddr, flags int) error {
	return unsupported("SCTPBind")
}

// SCTPConnect returns ErrUnsupported: there are no file descriptors; use
// DialSCTP.
func SCTPConnect(fd int, addr *SCTPAddr) (int, error) {
	return 0, unsupported("SCTPConnect")
}

// FileListener returns ErrUnsupported: a listener is no file.
func FileListener(file *os.File) (*SCTPListener, error) {
	return nil, unsupported("FileListener")
}

// rawConn is the syscall.RawConn SocketConfig.Control gets: every method
// returns ErrUnsupported, there is no socket to control.
type rawConn struct{}

func (rawConn) Control(func(fd uintptr)) error           { return unsupported("RawConn.Control") }
func (rawConn) Read(func(fd uintptr) (done bool)) error  { return unsupported("RawConn.Read") }
func (rawConn) Write(func(fd uintptr) (done bool)) error { return unsupported("RawConn.Write") }
