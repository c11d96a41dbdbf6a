package cookie

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestSealOpen(t *testing.T) {
	s, err := NewSigner()
	require.NoError(t, err)
	c := s.Seal(nil, []byte("state"), t0, time.Minute)
	require.Len(t, c, len("state")+Overhead)
	p, err := s.Open(c, t0.Add(59*time.Second))
	require.NoError(t, err)
	require.Equal(t, []byte("state"), p)
}

func TestForged(t *testing.T) {
	s, err := NewSigner()
	require.NoError(t, err)
	other, err := NewSigner()
	require.NoError(t, err)
	c := s.Seal(nil, []byte("state"), t0, time.Minute)
	for i := range c {
		bad := append([]byte(nil), c...)
		bad[i] ^= 0x01
		_, err := s.Open(bad, t0)
		require.ErrorIs(t, err, ErrForged, "flipped byte %d", i)
	}
	_, err = other.Open(c, t0)
	require.ErrorIs(t, err, ErrForged, "another signer's cookie")
	for _, short := range [][]byte{nil, {version}, c[:Overhead-1]} {
		_, err := s.Open(short, t0)
		require.ErrorIs(t, err, ErrForged)
	}
}

func TestStale(t *testing.T) {
	s, err := NewSigner()
	require.NoError(t, err)
	c := s.Seal(nil, []byte("x"), t0, time.Minute)
	p, err := s.Open(c, t0.Add(time.Minute+250*time.Millisecond))
	require.Equal(t, []byte("x"), p, "a stale cookie still yields its authentic payload")
	require.ErrorIs(t, err, ErrStale)
	var se *StaleError
	require.True(t, errors.As(err, &se))
	require.Equal(t, 250*time.Millisecond, se.Staleness)
}

func TestRotation(t *testing.T) {
	s, err := NewSigner()
	require.NoError(t, err)
	old := s.Seal(nil, []byte("old"), t0, time.Minute)
	require.NoError(t, s.Rotate())
	p, err := s.Open(old, t0)
	require.NoError(t, err, "cookie of the previous secret still verifies")
	require.Equal(t, []byte("old"), p)
	cur := s.Seal(nil, []byte("cur"), t0, time.Minute)
	_, err = s.Open(cur, t0)
	require.NoError(t, err)
	require.NoError(t, s.Rotate())
	_, err = s.Open(old, t0)
	require.ErrorIs(t, err, ErrForged, "two rotations retire a secret")
	_, err = s.Open(cur, t0)
	require.NoError(t, err)
}

func FuzzOpen(f *testing.F) {
	s, err := NewSigner()
	require.NoError(f, err)
	f.Add(s.Seal(nil, []byte("seed"), t0, time.Minute))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, c []byte) {
		p, err := s.Open(c, t0)
		if err == nil && len(p) != len(c)-Overhead {
			t.Fatalf("payload length %d for cookie of %d", len(p), len(c))
		}
	})
}

// BenchmarkSealOpen: one cookie sealed and opened, as one handshake does.
func BenchmarkSealOpen(b *testing.B) {
	s, err := NewSigner()
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 200)
	now := time.Now()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		c := s.Seal(buf[:0], payload, now, time.Minute)
		if _, err := s.Open(c, now); err != nil {
			b.Fatal(err)
		}
	}
}
