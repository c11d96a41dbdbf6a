package pathmgr

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidConfig is wrapped by the errors returned by Config.Validate and New.
var ErrInvalidConfig = errors.New("pathmgr: invalid config")

// ErrUnknownPath is returned for a PathID that was not returned by AddPath.
var ErrUnknownPath = errors.New("pathmgr: unknown path")

// ErrUnconfirmed is returned when an operation needs a confirmed path
// (RFC 9260 section 5.4) and the path is still unconfirmed.
var ErrUnconfirmed = errors.New("pathmgr: path is unconfirmed")

// MinRTOMin is the smallest RTOMin that Config.Validate accepts.
const MinRTOMin = 10 * time.Millisecond

// Config holds the protocol parameters of one association. Use DefaultConfig
// and set Rand and Nonce.
type Config struct {
	// RTOInitial, RTOMin and RTOMax are RFC 9260's RTO.Initial, RTO.Min and
	// RTO.Max (section 16: 1 s, 1 s and 60 s).
	RTOInitial, RTOMin, RTOMax time.Duration

	// HBInterval is RFC 9260's HB.interval (default 30 s).
	HBInterval time.Duration

	// HBDisabled turns off all periodic heartbeats: idle Active paths and
	// the probing of PotentiallyFailed and Inactive paths. Heartbeats that
	// confirm unconfirmed paths (5.4) and HeartbeatNow still go.
	HBDisabled bool

	// HBMaxBurst is RFC 9260's HB.Max.Burst (section 16: 1): the most
	// heartbeats outstanding at a time on unconfirmed paths, each for one
	// RTO (section 5.4). Zero means 1.
	HBMaxBurst int

	// PathMaxRetrans is RFC 9260's Path.Max.Retrans (default 5).
	PathMaxRetrans int

	// AssocMaxRetrans is RFC 9260's Association.Max.Retrans (default 10).
	AssocMaxRetrans int

	// PFThreshold is RFC 7829's PotentiallyFailed.Max.Retrans (PFMR). The
	// default 0, as on Linux, sends a path to PotentiallyFailed on its first
	// timeout. PFThreshold == PathMaxRetrans disables the PF state.
	PFThreshold int

	// Switchback sends new data back to the user's primary path as soon as
	// it is Active again. When false, data stays on the path it failed over
	// to for as long as that path stays Active (RFC 7829 section 6,
	// "Primary Path Switchover").
	Switchback bool

	// Rand returns a number in [0, 1) for heartbeat jitter. Required.
	Rand func() float64

	// Nonce returns the 64-bit random nonce put in each heartbeat
	// (RFC 9260 section 5.4). Required; use a cryptographic source.
	Nonce func() uint64
}

// DefaultConfig returns the RFC 9260 defaults with switchback on. Rand and
// Nonce are nil and must be set by the caller.
func DefaultConfig() Config {
	return Config{
		RTOInitial:      time.Second,
		RTOMin:          time.Second,
		RTOMax:          60 * time.Second,
		HBInterval:      30 * time.Second,
		HBMaxBurst:      1,
		PathMaxRetrans:  5,
		AssocMaxRetrans: 10,
		PFThreshold:     0,
		Switchback:      true,
	}
}

// Validate reports whether c is usable. The error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.RTOMin < MinRTOMin:
		return fmt.Errorf("%w: RTOMin %v is below %v", ErrInvalidConfig, c.RTOMin, MinRTOMin)
	case c.RTOInitial < c.RTOMin:
		return fmt.Errorf("%w: RTOInitial %v is below RTOMin %v", ErrInvalidConfig, c.RTOInitial, c.RTOMin)
	case c.RTOMax < c.RTOInitial:
		return fmt.Errorf("%w: RTOMax %v is below RTOInitial %v", ErrInvalidConfig, c.RTOMax, c.RTOInitial)
	case c.RTOMax > maxRTT:
		return fmt.Errorf("%w: RTOMax %v is above %v", ErrInvalidConfig, c.RTOMax, maxRTT)
	case c.HBInterval < 0:
		return fmt.Errorf("%w: negative HBInterval %v", ErrInvalidConfig, c.HBInterval)
	case c.HBMaxBurst < 0:
		return fmt.Errorf("%w: negative HBMaxBurst %d", ErrInvalidConfig, c.HBMaxBurst)
	case c.PathMaxRetrans < 0:
		return fmt.Errorf("%w: negative PathMaxRetrans %d", ErrInvalidConfig, c.PathMaxRetrans)
	case c.AssocMaxRetrans < 0:
		return fmt.Errorf("%w: negative AssocMaxRetrans %d", ErrInvalidConfig, c.AssocMaxRetrans)
	case c.PFThreshold < 0:
		return fmt.Errorf("%w: negative PFThreshold %d", ErrInvalidConfig, c.PFThreshold)
	case c.PFThreshold > c.PathMaxRetrans:
		// RFC 7829 section 5.1 requires PFMR <= PMR.
		return fmt.Errorf("%w: PFThreshold %d is above PathMaxRetrans %d", ErrInvalidConfig, c.PFThreshold, c.PathMaxRetrans)
	case c.Rand == nil:
		return fmt.Errorf("%w: Rand is nil", ErrInvalidConfig)
	case c.Nonce == nil:
		return fmt.Errorf("%w: Nonce is nil", ErrInvalidConfig)
	}
	return nil
}
