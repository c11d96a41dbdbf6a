// Package multihome handles an endpoint's address lists (RFC 9260 sections
// 5.1.2 and 5.4): which local addresses go into an INIT or INIT-ACK for a
// given peer, which addresses of the peer's INIT or INIT-ACK are usable,
// and which local address to send to each peer address from.
package multihome

import (
	"net/netip"
	"slices"

	"github.com/usock/usock/internal/wire"
)

// Usable reports whether a peer address may be a path's destination: a
// valid unicast address (RFC 9260 section 8.4 rule 1 treats the others as
// non-unicast).
func Usable(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Advertise returns the address parameters and the Supported Address Types
// parameter for an INIT from local addresses to peer, with the scoping of
// RFC 9260 section 5.1.2: a loopback address is never listed to a peer
// that is not itself on loopback, a link-local address (fe80::/10,
// 169.254.0.0/16) never to a peer that is not itself link-local (it could
// not reach it; Linux's SCTP scopes them the same way), nor an address of
// a family the peer did not say it supports (peerTypes; nil: the peer
// said nothing, which means it supports all). Unspecified (wildcard)
// addresses are not listed, and at most MaxPeerAddresses addresses are,
// the most a peer of this stack takes (a host with more addresses gets
// no INIT larger for them). A lone address is not listed either: the
// packet's source address says it.
func Advertise(local []netip.Addr, peer netip.Addr, peerTypes []wire.ParamType) []wire.Param {
	kept := listable(local, peer, peerTypes)
	v4, v6 := peer.Is4(), peer.Is6()
	for _, a := range kept {
		v4, v6 = v4 || a.Is4(), v6 || a.Is6()
	}
	var types []wire.ParamType
	if v4 {
		types = append(types, wire.ParamIPv4Address)
	}
	if v6 {
		types = append(types, wire.ParamIPv6Address)
	}
	return append(addressParams(kept), wire.SupportedAddressTypesParam(types...))
}

// AdvertiseAddrs returns Advertise's address parameters alone, for an
// INIT-ACK: RFC 9260 section 3.3.3 lists Supported Address Types among the
// INIT's parameters only.
func AdvertiseAddrs(local []netip.Addr, peer netip.Addr, peerTypes []wire.ParamType) []wire.Param {
	return addressParams(listable(local, peer, peerTypes))
}

// listable returns the local addresses Advertise may list to peer, in
// order, each once, at most MaxPeerAddresses.
func listable(local []netip.Addr, peer netip.Addr, peerTypes []wire.ParamType) []netip.Addr {
	var kept []netip.Addr
	for i, a := range local {
		if !Usable(a) || (a.IsLoopback() && !peer.IsLoopback()) ||
			(a.IsLinkLocalUnicast() && !peer.IsLinkLocalUnicast()) || !supports(peerTypes, a) ||
			slices.Contains(local[:i], a) {
			continue
		}
		if len(kept) == MaxPeerAddresses {
			break
		}
		kept = append(kept, a)
	}
	return kept
}

// addressParams makes the address parameters of kept, or none for a lone
// address.
func addressParams(kept []netip.Addr) []wire.Param {
	if len(kept) < 2 {
		return nil
	}
	ps := make([]wire.Param, len(kept))
	for i, a := range kept {
		ps[i] = wire.AddressParam(a)
	}
	return ps
}

// supports: RFC 9260 section 5.1.2 "If the Supported Address Types
// parameter is not present, the endpoint is assumed to support all address
// types."
func supports(types []wire.ParamType, a netip.Addr) bool {
	if types == nil {
		return true
	}
	if a.Is4() {
		return slices.Contains(types, wire.ParamIPv4Address)
	}
	return slices.Contains(types, wire.ParamIPv6Address)
}

// MaxPeerAddresses is the most peer addresses (paths) one association
// takes: the INIT's or INIT-ACK's source address and the first usable
// addresses it lists, up to this many in all. The rest are ignored (and
// counted), so that one INIT cannot make an association probe hundreds of
// addresses or hold state for them.
const MaxPeerAddresses = 16

// PeerAddresses returns the peer's transport addresses from its INIT or
// INIT-ACK (RFC 9260 section 5.1.2): the packet's source address first,
// then every usable listed address not already there, up to
// MaxPeerAddresses in all; the parameters to report as unrecognised
// (section 3.2.1: the two high bits of an unknown parameter type say
// whether to report it and whether to stop processing the chunk's
// parameters); and how many usable addresses were ignored past the bound.
// Addresses of a family with no local address (hasFamily false) are left
// out: they could not be reached.
func PeerAddresses(src netip.Addr, init *wire.Init, hasFamily func(netip.Addr) bool) (addrs []netip.Addr, unrecognized []wire.Param, excess int) {
	if Usable(src) {
		addrs = append(addrs, src)
	}
	for _, p := range init.Params {
		switch p.Type {
		case wire.ParamIPv4Address, wire.ParamIPv6Address:
			a, err := p.Addr()
			if err != nil {
				continue
			}
			a = a.Unmap()
			if Usable(a) && !slices.Contains(addrs, a) && (hasFamily == nil || hasFamily(a)) &&
				(!a.IsLoopback() || src.IsLoopback()) {
				if len(addrs) >= MaxPeerAddresses {
					excess++
					continue
				}
				addrs = append(addrs, a)
			}
		case wire.ParamStateCookie, wire.ParamCookiePreservative, wire.ParamSupportedAddressTypes,
			wire.ParamSupportedExtensions, wire.ParamForwardTSNSupported, wire.ParamZeroChecksum,
			wire.ParamUnrecognized, wire.ParamHostNameAddress, wire.ParamECN, wire.ParamRandom,
			wire.ParamChunkList, wire.ParamRequestedHMAC, wire.ParamPadding, wire.ParamAdaptationLayerInd:
			// Known; those the stack does not act on are ignored, as a peer
			// must expect of an optional parameter.
		default:
			act := wire.ParamAction(p.Type)
			if act.Report {
				unrecognized = append(unrecognized, p)
			}
			if act.Stop {
				return addrs, unrecognized, excess
			}
		}
	}
	return addrs, unrecognized, excess
}

// AddressTypes returns the peer's Supported Address Types, nil when it did
// not send the parameter.
func AddressTypes(init *wire.Init) []wire.ParamType {
	p, ok := init.Param(wire.ParamSupportedAddressTypes)
	if !ok {
		return nil
	}
	types, err := p.AddressTypes()
	if err != nil {
		return nil
	}
	return types
}

// LocalFor picks the local address to send to remote from: one of the
// same family; among them one on loopback for a loopback peer and one off
// loopback otherwise; then the one sharing the longest prefix with remote
// (on a host with one address per network, the one on remote's network);
// the first listed wins a tie. false when local has no address of remote's
// family.
func LocalFor(local []netip.Addr, remote netip.Addr) (netip.Addr, bool) {
	var best netip.Addr
	bestScore := -1
	for _, l := range local {
		if l.Is4() != remote.Is4() {
			continue
		}
		if score := Score(l, remote); score > bestScore {
			best, bestScore = l, score
		}
	}
	return best, best.IsValid()
}

// Score rates the local address l, of remote's family, as the source for
// remote, as LocalFor does: the same loopback scope first, then the
// longest common prefix. Higher is better.
func Score(l, remote netip.Addr) int {
	score := commonPrefix(l, remote)
	if l.IsLoopback() == remote.IsLoopback() {
		score += 256
	}
	return score
}

// commonPrefix counts the leading bits a and b share.
func commonPrefix(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		d := x[i] ^ y[i]
		if d != 0 {
			for d&0x80 == 0 {
				n++
				d <<= 1
			}
			return n
		}
		n += 8
	}
	return n
}
