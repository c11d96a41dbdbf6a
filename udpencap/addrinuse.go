//go:build !windows

package udpencap

import (
	"errors"
	"syscall"
)

// addrInUse reports whether a bind failed because the address and port
// are taken.
func addrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
