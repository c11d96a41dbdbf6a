package sctp

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/usock/usock/sock"
)

// Environment variables the package reads once, at its first Listen or
// Dial (see the package documentation).
const (
	// EnvUDPPort is the local UDP encapsulation port of the package's
	// stack (RFC 6951 section 5.1).
	EnvUDPPort = "USOCK_UDP_PORT"
	// EnvPeerUDPPort is the UDP encapsulation port Dial sends the INIT to.
	EnvPeerUDPPort = "USOCK_PEER_UDP_PORT"
	// EnvPPID is "host" (the default) or "kernel"; see SndRcvInfo.
	EnvPPID = "USOCK_SCTP_PPID"
)

// config is the package's configuration: the stack behind ListenSCTP,
// DialSCTP and a SocketConfig without Stack, and the peers' UDP port. mu
// guards the fields; any goroutine calling Listen, Dial or a setter
// enters.
var config struct {
	mu      sync.Mutex
	env     bool        // the environment was read
	envErr  error       // a malformed variable, returned by Listen and Dial
	stack   *sock.Stack // SetStack's
	envMade *sock.Stack // the stack made for EnvUDPPort, kept for the process
	peerUDP uint16      // 0: sock.DefaultUDPPort
	udp     uint16      // EnvUDPPort, 0: not set
}

// kernelPPID: SCTPRead and SCTPWrite pass the PPID in the kernel's byte
// order (SetKernelPPID, EnvPPID=kernel).
var kernelPPID atomic.Bool

// SetStack makes the package-level functions (ListenSCTP, DialSCTP, ...)
// and SocketConfigs without a Stack use s; nil goes back to the default:
// the stack on EnvUDPPort when it is set, else sock.Default(). Listeners
// and connections made before keep their stack.
func SetStack(s *sock.Stack) {
	readEnv()
	config.mu.Lock()
	defer config.mu.Unlock()
	config.stack = s
}

// SetPeerUDPPort sets the UDP encapsulation port Dial sends the INIT to
// (RFC 6951 section 5.1; the port is then learned from the peer's
// packets, section 5.4). 0 goes back to EnvPeerUDPPort or 9899.
func SetPeerUDPPort(port uint16) {
	readEnv()
	config.mu.Lock()
	defer config.mu.Unlock()
	config.peerUDP = port
}

// SetKernelPPID makes SCTPRead and SCTPWrite (and the buffers of
// SCTPSndRcvInfoWrappedConn) pass SndRcvInfo.PPID as the kernel's
// sinfo_ppid holds it, as github.com/ishidawataru/sctp did before May
// 2025, instead of in host order. See SndRcvInfo.
func SetKernelPPID(on bool) {
	readEnv()
	kernelPPID.Store(on)
}

// readEnv reads the environment variables once.
func readEnv() {
	config.mu.Lock()
	defer config.mu.Unlock()
	if config.env {
		return
	}
	config.env = true
	e, err := parseEnv(os.Getenv)
	config.envErr = err
	if e.peerUDP != 0 {
		config.peerUDP = e.peerUDP
	}
	config.udp = e.udp
	if e.kernelPPID {
		kernelPPID.Store(true)
	}
}

// envSettings are the settings the environment variables give.
type envSettings struct {
	udp, peerUDP uint16 // 0: not set
	kernelPPID   bool
}

// parseEnv reads the variables through getenv.
func parseEnv(getenv func(string) string) (envSettings, error) {
	var e envSettings
	var errs []error
	port := func(name string) uint16 {
		v := getenv(name)
		if v == "" {
			return 0
		}
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil || p == 0 {
			errs = append(errs, fmt.Errorf("sctp: %s=%q is not a UDP port: %w", name, v, ErrInvalidArgument))
			return 0
		}
		return uint16(p)
	}
	e.udp = port(EnvUDPPort)
	e.peerUDP = port(EnvPeerUDPPort)
	switch v := getenv(EnvPPID); v {
	case "", "host":
	case "kernel":
		e.kernelPPID = true
	default:
		errs = append(errs, fmt.Errorf("sctp: %s=%q: want \"host\" or \"kernel\": %w", EnvPPID, v, ErrInvalidArgument))
	}
	return e, errors.Join(errs...)
}

// stackFor returns the stack and peer UDP port for cfg (nil: the
// package's).
func stackFor(cfg *SocketConfig) (*sock.Stack, uint16, error) {
	readEnv()
	config.mu.Lock()
	defer config.mu.Unlock()
	if config.envErr != nil {
		return nil, 0, config.envErr
	}
	peer := config.peerUDP
	if cfg != nil && cfg.PeerUDPPort != 0 {
		peer = cfg.PeerUDPPort
	}
	if peer == 0 {
		peer = sock.DefaultUDPPort
	}
	if cfg != nil && cfg.Stack != nil {
		return cfg.Stack, peer, nil
	}
	if config.stack != nil {
		return config.stack, peer, nil
	}
	if config.envMade != nil {
		return config.envMade, peer, nil
	}
	if config.udp != 0 {
		s, err := sock.NewStack(sock.WithUDPPort(config.udp))
		if err != nil {
			return nil, 0, fmt.Errorf("sctp: the stack on %s=%d: %w", EnvUDPPort, config.udp, err)
		}
		config.envMade = s
		return s, peer, nil
	}
	s, err := sock.Default()
	if err != nil {
		return nil, 0, fmt.Errorf("sctp: the default stack: %w", err)
	}
	return s, peer, nil
}
