package wire

// NewPacket appends a common header for h to dst, with the checksum field
// zeroed, and returns the extended slice. Append chunks to it and call
// Finish:
//
//	pkt := wire.NewPacket(buf[:0], wire.CommonHeader{SrcPort: 5000, DstPort: 5000, VerificationTag: tag})
//	pkt = wire.AppendCookieAck(pkt)
//	pkt = wire.Finish(pkt)
//
// The packet starts at the original len(dst).
func NewPacket(dst []byte, h CommonHeader) []byte {
	h.Checksum = 0
	var hdr [CommonHeaderSize]byte
	h.Put(hdr[:])
	return append(dst, hdr[:]...)
}

// Finish computes the CRC32c of pkt, a whole packet starting with its
// common header, stores it in the header (see SetChecksum) and returns pkt.
//
// RFC 9260 section 6.8: "When sending an SCTP packet, the endpoint MUST
// strengthen the data integrity of the transmission by including the CRC32c
// checksum value calculated on the packet, as described below."
func Finish(pkt []byte) []byte {
	SetChecksum(pkt)
	return pkt
}
