package sock

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

var assocIDs atomic.Uint64

// Association is an SCTP association between one of our endpoints and a
// peer endpoint (RFC 9260 section 1.3): Erlang sock's assoc(). The data
// engine under it is a pion/sctp association; the handshake, the paths and
// everything about addresses are the stack's.
type Association struct {
	// Fixed at creation, read by every goroutine without a lock.
	id       uint64
	ep       *Endpoint
	cfg      assocConfig
	localTag uint32
	localTSN uint32
	peerPort uint16

	// life is the association's state and how it ended (lifecycle.go).
	life lifecycle
	// hs is the initiating side's handshake (connect.go).
	hs handshakeState
	// eng is the pion association and the shim it runs over (engine.go).
	eng engineState
	// str is the association's streams and their readers (streams.go).
	str streamSet

	// mu guards peerTag, ps and the fields of hs, eng and str
	// that their doc comments give to it. Lock order (see the package
	// documentation): mp.mu, then a.mu, then the endpoint's e.mu
	// (unregister; takeInitAck through indexPeers); life.mu is a leaf.
	mu      sync.Mutex
	peerTag uint32
	ps      pathSet // the paths and the primary (pathset.go)

	mp           atomic.Pointer[multipath] // set once established
	lastDataFrom atomic.Pointer[path]

	// rx decides which inbound DATA pion gets (rxwindow.go).
	rx rxTracker
	// tx follows the messages sent until acknowledged (sendtrack.go).
	tx sendTracker
	// remoteErrQueued counts the association's EventRemoteError in the
	// endpoint's event queue: raised by the receive path, taken off as
	// the queue hands them out or drops them (eventQueue).
	remoteErrQueued atomic.Int32

	// rq is the association's own receive queue (RecvPerAssociation; nil
	// otherwise).
	rq *assocQueue

	stats assocCounters
}

type assocCounters struct {
	droppedForeign atomic.Uint64 // wrong source address or port
	droppedQueue   atomic.Uint64 // pion's input queue full
	droppedStream  atomic.Uint64 // DATA chunks on invalid streams
	unrecognized   atomic.Uint64 // unrecognised chunks
	unreported     atomic.Uint64 // causes and HEARTBEAT ACKs a bounded reply left out
	heartbeatsIn   atomic.Uint64
	heartbeatAcks  atomic.Uint64
	messagesIn     atomic.Uint64
	messagesOut    atomic.Uint64
	// forgedHeartbeatAcks counts HEARTBEAT-ACKs with a nonce we never sent.
	forgedHeartbeatAcks atomic.Uint64
	// droppedMalformed counts packets dropped for a malformed chunk.
	droppedMalformed atomic.Uint64
	// remoteErrors counts the error causes of the peer's ERROR chunks,
	// remoteErrorsUnreported those that found the association's share of
	// the event queue full; sendFailed the EventSendFailed raised.
	remoteErrors, remoteErrorsUnreported, sendFailed atomic.Uint64
}

func (a *Association) count(c *atomic.Uint64) { c.Add(1) }

func newAssociation(ep *Endpoint, peerPort uint16) *Association {
	a := &Association{
		id:       assocIDs.Add(1),
		ep:       ep,
		cfg:      ep.cfg.assoc,
		localTag: randomTag(),
		localTSN: randomTag(),
		peerPort: peerPort,
		life:     newLifecycle(),
		str:      newStreamSet(),
	}
	if ep.cfg.recvMode == RecvPerAssociation {
		a.rq = newAssocQueue(ep.cfg.recvQueue, ep.cfg.assoc.receiveBuffer)
	}
	return a
}

// String names the association by its number, local port and primary peer address.
func (a *Association) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	remote := "?"
	if p := a.ps.main(); p != nil {
		remote = netip.AddrPortFrom(p.remoteAddr(), a.peerPort).String()
	}
	return fmt.Sprintf("assoc#%d(:%d-%s)", a.id, a.ep.port, remote)
}

// Endpoint returns the association's endpoint.
func (a *Association) Endpoint() *Endpoint { return a.ep }

// PeerPort returns the peer's SCTP port.
func (a *Association) PeerPort() uint16 { return a.peerPort }

func (a *Association) peerTagValue() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.peerTag
}

func (a *Association) peerAddrs() []netip.Addr {
	return a.ps.remotes(false)
}

func (a *Association) hasPeerAddr(addr netip.Addr) bool {
	return a.pathFor(addr) != nil
}

func (a *Association) pathFor(addr netip.Addr) *path {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ps.find(addr)
}

// addPathLocked adds a path to remote (if new) and returns it; nil when
// the association has multihome.MaxPeerAddresses paths already (the
// caller counts the drop). The caller holds a.mu.
func (a *Association) addPathLocked(remote netip.Addr, local netip.Addr, udpPort uint16, confirmed bool) *path {
	return a.ps.add(remote, local, udpPort, confirmed)
}

// mustHold panics unless mu is locked: a cheap check, where a function
// documents that its caller holds mu, that the lock order of the package
// documentation is kept. It cannot tell which goroutine holds mu.
func mustHold(mu *sync.Mutex) {
	if mu.TryLock() {
		mu.Unlock()
		panic("sock: lock order: a function that needs its caller to hold a lock was called without it")
	}
}
