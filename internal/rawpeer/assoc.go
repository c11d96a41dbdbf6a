package rawpeer

import "github.com/usock/usock/internal/wire"

// Assoc is the raw peer's side of one association: its SCTP view (ports,
// tags, TSNs) over a Peer's socket. Like the Peer it belongs to the test
// goroutine.
type Assoc struct {
	*Peer

	Port     uint16 // our SCTP port
	DstPort  uint16 // the stack's endpoint's SCTP port
	MyTag    uint32 // our Initiate Tag: the stack puts it in its packets
	TheirTag uint32 // the stack's Initiate Tag: we put it in ours
	NextTSN  uint32 // our next TSN
	TheirTSN uint32 // the stack's Initial TSN

	ssn map[uint16]uint16 // next stream sequence number per stream
}

// NewAssoc is an association (not yet set up) from SCTP port port on p
// to the endpoint at dstPort.
func NewAssoc(p *Peer, port, dstPort uint16) *Assoc {
	return &Assoc{Peer: p, Port: port, DstPort: dstPort}
}

// Twin is the same SCTP view, tags, TSNs and stream sequence numbers, on
// another socket: the same SCTP endpoint seen from another UDP port or
// address.
func (a *Assoc) Twin(p *Peer) *Assoc {
	b := *a
	b.Peer = p
	b.ssn = make(map[uint16]uint16, len(a.ssn))
	for s, n := range a.ssn {
		b.ssn[s] = n
	}
	return &b
}

// SendTag sends one packet with Verification Tag tag carrying chunks.
func (a *Assoc) SendTag(tag uint32, chunks ...[]byte) {
	a.t.Helper()
	a.Send(Encode(a.Port, a.DstPort, tag, chunks...))
}

// SendAssoc sends one packet with the association's tag.
func (a *Assoc) SendAssoc(chunks ...[]byte) {
	a.t.Helper()
	a.SendTag(a.TheirTag, chunks...)
}

// Associate completes the handshake as initiator with the INIT in (see
// Peer.Establish) and takes the tags and TSNs from it and its INIT ACK,
// which it returns.
func (a *Assoc) Associate(in wire.Init) wire.Init {
	a.t.Helper()
	ack := a.Establish(a.Port, a.DstPort, in)
	a.MyTag, a.NextTSN = in.InitiateTag, in.InitialTSN
	a.TheirTag, a.TheirTSN = ack.InitiateTag, ack.InitialTSN
	return ack
}

// Next takes the next TSN and the next stream sequence number on stream.
func (a *Assoc) Next(stream uint16) (tsn uint32, ssn uint16) {
	if a.ssn == nil {
		a.ssn = map[uint16]uint16{}
	}
	tsn, ssn = a.NextTSN, a.ssn[stream]
	a.NextTSN++
	a.ssn[stream]++
	return tsn, ssn
}

// Unsend gives back the last Next on stream, for a chunk the stack never
// processed.
func (a *Assoc) Unsend(stream uint16) {
	a.NextTSN--
	a.ssn[stream]--
}

// Data is the next DATA chunk on stream: a whole ordered message.
func (a *Assoc) Data(stream uint16, payload string) []byte {
	tsn, ssn := a.Next(stream)
	return Message(tsn, stream, ssn, payload)
}
