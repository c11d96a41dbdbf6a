package reliability

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/usock/usock/internal/multihome"
	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// FuzzPeerAddresses: the address list of an arbitrary INIT or INIT-ACK
// value (multihome.PeerAddresses, reached from the wire on every handshake):
// no panic; the source address first; every other address usable, of a
// family we have, listed once.
func FuzzPeerAddresses(f *testing.F) {
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	base := wire.Init{InitiateTag: 1, ARwnd: 65536, OutStreams: 4, InStreams: 4, InitialTSN: 1}
	add := func(params ...wire.Param) {
		in := base
		in.Params = params
		f.Add(must(in.Append(nil, wire.ChunkInit))[wire.ChunkHeaderSize:], false, true, true)
	}
	add()
	add(wire.AddressParam(netip.MustParseAddr("192.0.2.2")), wire.AddressParam(netip.MustParseAddr("2001:db8::2")))
	add(wire.AddressParam(v4), wire.AddressParam(netip.MustParseAddr("127.0.0.1")), wire.AddressParam(netip.MustParseAddr("0.0.0.0")),
		wire.AddressParam(netip.MustParseAddr("224.0.0.1")), wire.AddressParam(netip.MustParseAddr("255.255.255.255")))
	add(wire.AddressParam(netip.MustParseAddr("fe80::1")), wire.AddressParam(netip.MustParseAddr("::ffff:192.0.2.9")), wire.AddressParam(netip.MustParseAddr("::")))
	add(wire.SupportedAddressTypesParam(wire.ParamIPv4Address), wire.AddressParam(netip.MustParseAddr("2001:db8::3")))
	add(wire.Param{Type: wire.ParamType(0x0009), Value: []byte{1, 2, 3, 4}}, // Cookie Preservative-ish
		wire.Param{Type: wire.ParamType(0x3fff), Value: []byte("stop")}, wire.AddressParam(netip.MustParseAddr("192.0.2.4")))
	add(wire.Param{Type: wire.ParamType(0x7fff), Value: []byte("stop, report")}, wire.AddressParam(netip.MustParseAddr("192.0.2.5")))
	add(wire.Param{Type: wire.ParamType(0xbfff), Value: []byte("skip")}, wire.AddressParam(netip.MustParseAddr("192.0.2.6")))
	add(wire.Param{Type: wire.ParamType(0xffff), Value: []byte("skip, report")}, wire.Param{Type: wire.ParamHostNameAddress, Value: []byte("example.org\x00")})
	f.Fuzz(func(t *testing.T, value []byte, src6, haveV4, haveV6 bool) {
		in, err := wire.ParseInit(value)
		if err != nil {
			return
		}
		_ = multihome.AddressTypes(&in)
		src := v4
		if src6 {
			src = v6
		}
		has := func(a netip.Addr) bool {
			if a.Unmap().Is4() {
				return haveV4
			}
			return haveV6
		}
		addrs, unrec, _ := multihome.PeerAddresses(src, &in, has)
		if len(addrs) > multihome.MaxPeerAddresses {
			t.Fatalf("%d addresses, more than %d", len(addrs), multihome.MaxPeerAddresses)
		}
		if len(addrs) == 0 || addrs[0] != src {
			t.Fatalf("the source address must come first: %v", addrs)
		}
		seen := map[netip.Addr]bool{}
		for i, a := range addrs {
			if seen[a] {
				t.Fatalf("address %v listed twice: %v", a, addrs)
			}
			seen[a] = true
			if i == 0 {
				continue
			}
			if !a.IsValid() || !multihome.Usable(a) || !has(a) {
				t.Fatalf("unusable address %v in %v", a, addrs)
			}
			if a.Is4In6() {
				t.Fatalf("mapped address %v not unmapped", a)
			}
		}
		for _, p := range unrec {
			if !wire.ParamAction(p.Type).Report {
				t.Fatalf("parameter %#x reported although its action says not to", p.Type)
			}
		}
	})
}

// FuzzUDPEncapHandoff: arbitrary datagrams to a udpencap transport over
// loopback. The Receiver gets exactly the datagrams that are at least a
// common header long and carry a correct CRC32c, whatever their SCTP
// port, byte for byte; nothing else is handed off. fix makes the checksum
// correct so that the fuzzer reaches past the check.
func FuzzUDPEncapHandoff(f *testing.F) {
	var mu sync.Mutex
	var gots [][]byte
	marker := make(chan uint32, 16)
	const port = 5000
	recv := func(pkt []byte, meta udpencap.Meta) {
		hdr, err := wire.ParseCommonHeader(pkt)
		if err != nil {
			panic(fmt.Sprintf("handed off a packet shorter than a header: %x", pkt))
		}
		if hdr.SrcPort == 0xfeed && hdr.DstPort == port && len(pkt) == wire.CommonHeaderSize {
			marker <- hdr.VerificationTag
			return
		}
		mu.Lock()
		gots = append(gots, append([]byte(nil), pkt...))
		mu.Unlock()
	}
	rx, err := udpencap.Open(udpencap.Config{Receiver: udpencap.ReceiverFunc(recv)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = rx.Close() })
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = tx.Close() })
	to := net.UDPAddrFromAddrPort(rx.LocalAddrs()[0])
	var seq uint32

	mk := func(dst uint16, body []byte) []byte {
		p := wire.NewPacket(nil, wire.CommonHeader{SrcPort: 1, DstPort: dst, VerificationTag: 7})
		return wire.Finish(append(p, body...))
	}
	f.Add([]byte{}, false)
	f.Add([]byte{1, 2, 3}, true)
	f.Add(make([]byte, wire.CommonHeaderSize), true)
	f.Add(mk(port, rawpeer.Message(1, 0, 0, "x")), false)
	f.Add(mk(port+1, []byte{6, 0, 0, 4}), false)
	f.Add(mk(port, bytes.Repeat([]byte{0xff}, 300)), true)
	f.Fuzz(func(t *testing.T, d []byte, fix bool) {
		if len(d) > udpencap.MaxDatagramSize-100 {
			return
		}
		d = append([]byte(nil), d...)
		if fix && len(d) >= wire.CommonHeaderSize {
			wire.SetChecksum(d)
		}
		mu.Lock()
		gots = gots[:0]
		mu.Unlock()
		if _, err := tx.WriteToUDP(d, to); err != nil {
			t.Fatal(err)
		}
		seq++
		m := wire.NewPacket(nil, wire.CommonHeader{SrcPort: 0xfeed, DstPort: port, VerificationTag: seq})
		m = wire.Finish(m)
		if _, err := tx.WriteToUDP(m, to); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(5 * time.Second)
		for {
			select {
			case s := <-marker:
				if s != seq {
					continue // a late marker of an earlier input
				}
			case <-timeout:
				t.Fatal("marker never arrived")
			}
			break
		}
		mu.Lock()
		defer mu.Unlock()
		valid := len(d) >= wire.CommonHeaderSize && wire.VerifyChecksum(d)
		isMarker := valid && binary.BigEndian.Uint16(d) == 0xfeed && len(d) == wire.CommonHeaderSize && binary.BigEndian.Uint16(d[2:]) == port
		switch {
		case !valid || isMarker:
			if len(gots) != 0 {
				t.Fatalf("handed off %d packets for an invalid datagram %x", len(gots), d)
			}
		default:
			if len(gots) != 1 {
				t.Fatalf("%d hand-offs for a valid datagram %x", len(gots), d)
			}
			if !bytes.Equal(gots[0], d) {
				t.Fatalf("handed off %x for %x", gots[0], d)
			}
		}
	})
}
