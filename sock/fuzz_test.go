package sock

import (
	"net/netip"
	"testing"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// FuzzReceive feeds arbitrary packets to a listening endpoint and to an
// established association through the stack's receive path (after the
// checksum check, which udpencap does): nothing may panic, and the
// association must survive everything that does not carry its tag.
func FuzzReceive(f *testing.F) {
	p := newPair(f)
	serverPort := p.listener.Port()
	clientPort := p.dialer.Port()
	tag := p.serverAssoc.localTag
	meta := udpencap.Meta{
		Src:   netip.AddrPortFrom(lo4, p.client.UDPPort()),
		Local: netip.AddrPortFrom(lo4, p.server.UDPPort()),
	}
	f.Add([]byte{}, uint8(0))
	f.Add(rawpeer.InitChunk(rawpeer.SimpleInit(0x1234, 1)), uint8(0))
	f.Add(rawpeer.Message(1, 0, 0, "x"), uint8(1))
	f.Add(must(wire.AppendHeartbeat(nil, wire.ChunkHeartbeat, []byte("hb"))), uint8(1))
	f.Add(must(wire.AppendCookieEcho(nil, []byte("not a cookie"))), uint8(0))
	f.Add(must(wire.AppendChunk(nil, wire.ChunkType(0xff), 0, []byte("unknown"))), uint8(1))
	f.Add(must(wire.AppendSack(nil, 1, 1000, nil, nil)), uint8(2))
	f.Fuzz(func(t *testing.T, chunks []byte, mode uint8) {
		var vtag uint32
		switch mode % 3 {
		case 1:
			vtag = tag
		case 2:
			vtag = tag ^ 0xffff
		}
		pkt := rawpeer.Encode(clientPort, serverPort, vtag, chunks)
		p.server.receive(pkt, meta)
	})
}
