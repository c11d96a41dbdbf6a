package handshake

import (
	"fmt"
	"slices"

	"github.com/usock/usock/internal/wire"
)

// pionEDMID is the Error Detection Method pion understands in a Zero
// Checksum Acceptable parameter (RFC 9653): 1, "SCTP over DTLS". It is only
// ever put in pion's private copy of the peer's INIT, never on the wire.
const pionEDMID = 1

// Extensions returns the Supported Extensions (RFC 5061 section 4.2.7) the
// stack announces: what pion implements: RE-CONFIG (RFC 6525) and
// FORWARD-TSN (RFC 3758), and I-DATA with I-FORWARD-TSN (RFC 8260) when
// interleaving is on.
func Extensions(interleaving bool) []wire.ChunkType {
	ext := []wire.ChunkType{wire.ChunkReconfig, wire.ChunkForwardTSN}
	if interleaving {
		ext = append(ext, wire.ChunkIData, wire.ChunkIForwardTSN)
	}
	return ext
}

// PeerExtensions returns the extensions the peer announced that pion
// implements. A peer announcing PR-SCTP through the Forward-TSN-Supported
// parameter (RFC 3758 section 3.1) alone gets FORWARD-TSN too: pion reads
// only the Supported Extensions parameter.
func PeerExtensions(peer *wire.Init) []wire.ChunkType {
	var out []wire.ChunkType
	if p, ok := peer.Param(wire.ParamSupportedExtensions); ok {
		if ext, err := p.Extensions(); err == nil {
			for _, t := range ext {
				if slices.Contains(Extensions(true), t) && !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
		}
	}
	if _, ok := peer.Param(wire.ParamForwardTSNSupported); ok && !slices.Contains(out, wire.ChunkForwardTSN) {
		out = append(out, wire.ChunkForwardTSN)
	}
	return out
}

// PionTokens returns the two INIT chunks pion's SNAP mode takes
// (sctp.WithSNAP): local is our INIT or INIT-ACK, remote the peer's, each
// re-encoded as an INIT with only the parameters pion knows and needs.
// pion takes the initial TSN and stream counts from local; the Initiate
// Tag, initial TSN, a_rwnd and extensions from remote. The remote token
// carries a Zero Checksum Acceptable parameter so that pion leaves the
// checksum to the stack, which computes the one real CRC32c of every
// outbound packet. The tokens hold the fixed fields and at most three
// short parameters, so an error (wrapping wire.ErrTooLong) cannot happen
// in practice; it is returned rather than assumed.
func PionTokens(local, peer *wire.Init, interleaving bool) (localToken, remoteToken []byte, err error) {
	l := wire.Init{
		InitiateTag: local.InitiateTag, ARwnd: local.ARwnd,
		OutStreams: local.OutStreams, InStreams: local.InStreams, InitialTSN: local.InitialTSN,
		Params: []wire.Param{wire.SupportedExtensionsParam(Extensions(interleaving)...)},
	}
	r := wire.Init{
		InitiateTag: peer.InitiateTag, ARwnd: peer.ARwnd,
		OutStreams: peer.OutStreams, InStreams: peer.InStreams, InitialTSN: peer.InitialTSN,
	}
	if ext := PeerExtensions(peer); len(ext) > 0 {
		r.Params = append(r.Params, wire.SupportedExtensionsParam(ext...))
	}
	r.Params = append(r.Params, wire.ZeroChecksumParam(pionEDMID))
	if localToken, err = l.Append(nil, wire.ChunkInit); err != nil {
		return nil, nil, fmt.Errorf("pion token of our INIT: %w", err)
	}
	if remoteToken, err = r.Append(nil, wire.ChunkInit); err != nil {
		return nil, nil, fmt.Errorf("pion token of the peer's INIT: %w", err)
	}
	return localToken, remoteToken, nil
}

// Interleaving reports whether both sides announced I-DATA (RFC 8260
// section 2.2: it is used only if both do).
func Interleaving(local bool, peer *wire.Init) bool {
	return local && slices.Contains(PeerExtensions(peer), wire.ChunkIData)
}
