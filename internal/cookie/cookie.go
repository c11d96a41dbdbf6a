// Package cookie seals and opens SCTP State Cookies (RFC 9260 section
// 5.1.3): the listening side puts everything it needs to build the
// association into the cookie of its INIT-ACK, signs it and forgets it. A
// valid COOKIE-ECHO brings it back.
//
// A cookie is
//
//	version (1) | key id (1) | created, unix ns (8) | lifetime ns (8) | payload | HMAC-SHA256 (32)
//
// signed under a per-stack secret. Secrets rotate: a cookie signed with the
// previous secret still verifies, so a rotation never breaks a handshake in
// flight.
package cookie

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

const (
	version    = 1
	headerSize = 1 + 1 + 8 + 8
	macSize    = sha256.Size
	// Overhead is the number of bytes a cookie adds to its payload.
	Overhead = headerSize + macSize
	keySize  = 32
)

var (
	// ErrForged means the cookie's signature does not verify under the
	// current or the previous secret, or its format is wrong.
	ErrForged = errors.New("cookie: bad signature")
	// ErrStale means the cookie verified but its lifetime has passed.
	ErrStale = errors.New("cookie: stale")
)

// StaleError is returned (wrapping ErrStale) for an expired cookie; it says
// by how much the lifetime was exceeded, the "Measure of Staleness" of the
// Stale Cookie error cause (RFC 9260 section 3.3.10.3).
type StaleError struct {
	Staleness time.Duration
}

// Error says by how much the cookie is stale.
func (e *StaleError) Error() string {
	return fmt.Sprintf("cookie: stale by %v", e.Staleness)
}

// Unwrap makes errors.Is(err, ErrStale) true.
func (e *StaleError) Unwrap() error { return ErrStale }

type key struct {
	id     byte
	secret [keySize]byte
	// macs keeps HMACs keyed with secret for reuse: making one hashes
	// the key twice and allocates, and every INIT-ACK and COOKIE-ECHO
	// needs one. Copies of the key share it.
	macs *sync.Pool
}

// newKey is a key with id and a fresh random secret.
func newKey(id byte) (key, error) {
	k := key{id: id, macs: &sync.Pool{}}
	if _, err := rand.Read(k.secret[:]); err != nil {
		return key{}, err
	}
	return k, nil
}

// Signer seals and opens cookies. It is safe for concurrent use.
type Signer struct {
	mu       sync.RWMutex
	current  key
	previous *key
}

// NewSigner returns a signer with a fresh random secret.
func NewSigner() (*Signer, error) {
	k, err := newKey(0)
	if err != nil {
		return nil, fmt.Errorf("cookie: secret: %w", err)
	}
	return &Signer{current: k}, nil
}

// Rotate makes a fresh secret current. The previous current secret keeps
// verifying cookies until the next rotation; RFC 9260 section 5.1.3 asks
// that the secret "should be changed reasonably frequently".
func (s *Signer) Rotate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.current
	next, err := newKey(prev.id + 1)
	if err != nil {
		return fmt.Errorf("cookie: rotate: %w", err)
	}
	s.previous = &prev
	s.current = next
	return nil
}

// Seal appends to dst a cookie carrying payload, created at now and valid
// for lifetime.
func (s *Signer) Seal(dst, payload []byte, now time.Time, lifetime time.Duration) []byte {
	s.mu.RLock()
	k := s.current
	s.mu.RUnlock()
	start := len(dst)
	dst = append(dst, version, k.id)
	dst = binary.BigEndian.AppendUint64(dst, uint64(now.UnixNano()))
	dst = binary.BigEndian.AppendUint64(dst, uint64(lifetime))
	dst = append(dst, payload...)
	return appendMAC(dst, dst[start:], &k)
}

// Open verifies a cookie and returns its payload, which aliases c. It
// returns an error wrapping ErrForged for a cookie this signer did not
// make (or that was changed), and a *StaleError (wrapping ErrStale) for one
// whose lifetime has passed at now, together with the payload, which is
// authentic and needed to send the Stale Cookie error (RFC 9260 section
// 5.1.5 steps 2 and 3: the signature is checked first, then the lifetime).
func (s *Signer) Open(c []byte, now time.Time) ([]byte, error) {
	if len(c) < Overhead || c[0] != version {
		return nil, fmt.Errorf("%w: malformed (%d bytes)", ErrForged, len(c))
	}
	body, mac := c[:len(c)-macSize], c[len(c)-macSize:]
	s.mu.RLock()
	var k *key
	switch {
	case c[1] == s.current.id:
		cur := s.current
		k = &cur
	case s.previous != nil && c[1] == s.previous.id:
		k = s.previous
	}
	s.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("%w: unknown key", ErrForged)
	}
	var buf [macSize]byte
	if !hmac.Equal(appendMAC(buf[:0], body, k), mac) {
		return nil, ErrForged
	}
	created := time.Unix(0, int64(binary.BigEndian.Uint64(c[2:])))
	lifetime := time.Duration(binary.BigEndian.Uint64(c[10:]))
	if age := now.Sub(created); age > lifetime {
		return body[headerSize:], &StaleError{Staleness: age - lifetime}
	}
	return body[headerSize:], nil
}

func appendMAC(dst, msg []byte, k *key) []byte {
	m, _ := k.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, k.secret[:])
	}
	m.Write(msg)
	dst = m.Sum(dst)
	m.Reset()
	k.macs.Put(m)
	return dst
}
