package udpencap

import (
	"errors"

	"golang.org/x/sys/windows"
)

// addrInUse reports whether a bind failed because the address and port
// are taken (WSAEADDRINUSE).
func addrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
