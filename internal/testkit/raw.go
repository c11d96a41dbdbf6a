package testkit

import (
	"net/netip"
	"testing"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

// RawPeer is a raw peer on local (port 0: a free one) aimed at s's UDP
// port on 127.0.0.1.
func RawPeer(t testing.TB, s *sock.Stack, local netip.AddrPort) *rawpeer.Peer {
	t.Helper()
	return rawpeer.New(t, local, netip.AddrPortFrom(Lo4, s.UDPPort()))
}

// RawAssociate completes the handshake of a with the endpoint ep as
// initiator, with the INIT in (rawpeer.Assoc.Associate), and returns the
// endpoint's association, from its EventUp. It returns the INIT ACK too.
func RawAssociate(t testing.TB, a *rawpeer.Assoc, ep *sock.Endpoint, in wire.Init) (*sock.Association, wire.Init) {
	t.Helper()
	ack := a.Associate(in)
	for {
		ev := WaitEvent(t, ep, a.Wait, Want{Type: sock.EventUp})
		if ev.Association.PeerPort() == a.Port {
			return ev.Association, ack
		}
	}
}
