package sock

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sctp"

	"github.com/usock/usock/internal/handshake"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/udpencap"
)

// engineState is the association's data engine: the pion association and
// the shim it runs over, set once by startEngine. Owned by engine.go:
// other files reach it through the methods here.
//
// pion, conn, starting and spare are guarded by a.mu. startEngine sets
// them, from the socket reader (a COOKIE-ACK, a COOKIE-ECHO, an INIT
// collision); prepareEngine sets spare; user calls, stream readers, the path timer and the
// receive path read them. held is atomic: whoever ends the engine's hold
// on the endpoint's wait group (finish, Shutdown, pion's close callback)
// takes it with a compare-and-swap.
type engineState struct {
	pion *sctp.Association
	conn *shimConn
	// starting: startEngine ran (or runs); it runs once.
	starting bool
	// spare is the engine made ahead in COOKIE-ECHOED (prepareEngine),
	// until startEngine takes it.
	spare *spareEngine
	// held: the engine's count in the endpoint's wait group, from
	// establishment until the association is finished, is still held by
	// the association itself (not handed to acceptLoop).
	held atomic.Bool
	// counted: the engine is counted in the stack's engines
	// (countEngineLocked).
	counted atomic.Bool
}

// engine returns the pion association, nil before the engine started.
func (a *Association) engine() *sctp.Association {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eng.pion
}

// engineLocked is engine for a caller that holds a.mu.
func (a *Association) engineLocked() *sctp.Association { return a.eng.pion }

// shim returns the net.Conn pion runs over, nil before the engine started.
func (a *Association) shim() *shimConn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.eng.conn
}

// shimLocked is shim for a caller that holds a.mu.
func (a *Association) shimLocked() *shimConn { return a.eng.conn }

// engineStartingLocked reports whether startEngine ran or runs. The
// caller holds a.mu.
func (a *Association) engineStartingLocked() bool { return a.eng.starting }

// handOverEngine gives the engine's hold to acceptLoop, which finishes the
// association once pion's association ends; nothing if the hold is gone.
func (a *Association) handOverEngine() {
	if a.eng.held.CompareAndSwap(true, false) {
		go a.acceptLoop()
	}
}

// localInit is our INIT (or INIT-ACK) as pion needs to know it.
func (a *Association) localInit() wire.Init {
	return wire.Init{
		InitiateTag: a.localTag,
		ARwnd:       uint32(a.cfg.receiveBuffer),
		OutStreams:  a.cfg.outStreams,
		InStreams:   a.cfg.inStreams,
		InitialTSN:  a.localTSN,
	}
}

// startEngine creates the pion association from the two INIT chunks
// (SNAP, out-of-band establishment) over the shim, and enters ESTABLISHED.
// It runs once: an INIT collision can establish the association from the
// receive path while Connect waits; started says whether this call did it.
// On the side that received the COOKIE-ECHO, cookieEcho is its datagram:
// the COOKIE-ACK answers it before anything else is sent (no HEARTBEAT or
// DATA may reach the peer before it leaves COOKIE-ECHOED). On the
// connecting side pion's association was usually made ahead, while the
// COOKIE-ECHO travelled (prepareEngine): it is taken if it was made from
// this peer's INIT-ACK.
func (a *Association) startEngine(local, peer *wire.Init, cookieEcho *udpencap.Meta) (started bool, err error) {
	a.mu.Lock()
	if a.eng.starting {
		a.mu.Unlock()
		return false, nil
	}
	a.eng.starting = true
	spare := a.eng.spare
	a.eng.spare = nil
	a.mu.Unlock()
	var (
		pa   *sctp.Association
		conn *shimConn
	)
	if spare != nil && spare.peer == peer {
		pa, conn = spare.pion, spare.conn
	} else {
		spare.close()
		if pa, conn, err = a.makeEngine(local, peer); err != nil {
			return false, err
		}
	}
	a.rx.init(peer.InitialTSN-1, a.cfg.receiveBuffer, a.cfg.maxMessageSize)
	a.tx.init(local.InitialTSN) // pion's first DATA has our initial TSN
	a.mu.Lock()
	a.peerTag = peer.InitiateTag
	a.negotiateStreamsLocked(peer)
	a.eng.pion = pa
	a.eng.conn = conn
	a.countEngineLocked()
	a.handshakeDoneLocked()
	a.mu.Unlock()
	if err := a.startPaths(time.Now()); err != nil {
		a.uncountEngine()
		_ = pa.Close()
		return false, fmt.Errorf("sock: path management: %w", err)
	}
	// The engine's hold on the endpoint's wait group, from now until the
	// association is finished (see releaseEngine).
	a.ep.hold()
	a.eng.held.Store(true)
	if !a.life.advance(StateCookieWait, StateEstablished) &&
		!a.life.advance(StateCookieEchoed, StateEstablished) {
		// Closed meanwhile.
		a.uncountEngine()
		a.stopPaths()
		_ = pa.Close()
		a.releaseEngine()
		return false, fmt.Errorf("sock: association closed during set-up: %w", ErrClosed)
	}
	if cookieEcho != nil {
		a.sendCookieAck(*cookieEcho)
	}
	a.life.established()
	// Path management's first tick: confirmation heartbeats go at once.
	a.onPathTimer()
	return true, nil
}

// makeEngine makes pion's association from the two INIT chunks (SNAP,
// out-of-band establishment) over a new shim. It starts pion's goroutines
// but sends nothing: pion writes only what the user sends.
func (a *Association) makeEngine(local, peer *wire.Init) (*sctp.Association, *shimConn, error) {
	localTok, remoteTok, err := handshake.PionTokens(local, peer, false)
	if err != nil {
		return nil, nil, fmt.Errorf("sock: start association engine: %w", err)
	}
	if testHookEngineCreate != nil {
		testHookEngineCreate(a)
	}
	conn := newShimConn(a)
	pa, err := sctp.ClientWithOptions(
		sctp.WithSNAP(localTok, remoteTok),
		sctp.WithNetConn(conn),
		sctp.WithMTU(uint32(a.cfg.packetSize)),
		// The reserve over the advertised window: see rxwindow.go.
		sctp.WithMaxReceiveBufferSize(uint32(a.cfg.receiveBuffer+rxReserve)),
		sctp.WithMaxMessageSize(uint32(a.cfg.maxMessageSize)),
		sctp.WithEnableZeroChecksum(true),
		sctp.WithBlockWrite(true),
		sctp.WithRTOMax(float64(a.cfg.rtoMax.Milliseconds())),
		sctp.WithLoggerFactory(a.ep.pionLogger()),
		sctp.WithName(fmt.Sprintf("assoc#%d", a.id)),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("sock: start association engine: %w", err)
	}
	return pa, conn, nil
}

// spareEngine is pion's association made ahead, in COOKIE-ECHOED, from
// the peer's INIT-ACK peer: the COOKIE-ACK then only has to put it to
// work (startEngine), and the time pion takes to make it overlaps the
// peer's work on the COOKIE-ECHO.
type spareEngine struct {
	pion *sctp.Association
	conn *shimConn
	peer *wire.Init
}

// close ends a spare engine that is not used (nothing if sp is nil).
func (sp *spareEngine) close() {
	if sp != nil {
		_ = sp.pion.Close()
	}
}

// prepareEngine makes the spare engine for the peer's INIT-ACK that the
// COOKIE-ECHO just answered, unless the engine started meanwhile; a
// failure is left for startEngine to meet and report.
func (a *Association) prepareEngine() {
	a.mu.Lock()
	peer := a.hs.pendingPeer
	a.mu.Unlock()
	if peer == nil {
		return
	}
	local := a.localInit()
	pa, conn, err := a.makeEngine(&local, peer)
	if err != nil {
		return
	}
	sp := &spareEngine{pion: pa, conn: conn, peer: peer}
	a.mu.Lock()
	if a.hs.pendingPeer == peer && !a.eng.starting && a.eng.spare == nil && !a.life.closed() {
		a.eng.spare, sp = sp, nil
	}
	a.mu.Unlock()
	sp.close()
}

// dropSpareEngine ends the spare engine, if any: the handshake starts
// over, or the association is finished.
func (a *Association) dropSpareEngine() {
	a.mu.Lock()
	sp := a.eng.spare
	a.eng.spare = nil
	a.mu.Unlock()
	sp.close()
}

// testHookEngineCreate, when set (by tests), runs in startEngine just
// before pion's association is made.
var testHookEngineCreate func(*Association)

// engineClosed runs when pion closes its connection: a shutdown completed,
// or pion gave up on the association. It must not block nor take a.mu
// (pion may hold its own lock). Unless the association is finishing
// already, it hands the engine's hold to acceptLoop, which finishes it.
func (a *Association) engineClosed() {
	if a.life.current() == StateClosed {
		return
	}
	a.handOverEngine()
}

// acceptLoop accepts the streams pion queued, until pion's association
// ends, then finishes the association. It owns the engine's hold on the
// endpoint's wait group; it runs only from the start of a shutdown or
// once pion closed.
func (a *Association) acceptLoop() {
	defer a.releaseEngineHold()
	a.mu.Lock()
	pa := a.eng.pion
	a.mu.Unlock()
	for {
		s, err := pa.AcceptStream()
		if err != nil {
			break
		}
		a.adoptStream(s)
	}
	reason := ReasonCommunicationLost
	if a.life.shutdownSeen() {
		reason = ReasonShutdown
	}
	a.finish(reason, "", true)
}

// releaseEngine drops the engine's hold on the endpoint's wait group,
// unless acceptLoop owns it.
func (a *Association) releaseEngine() {
	if a.eng.held.CompareAndSwap(true, false) {
		a.releaseEngineHold()
	}
}

// releaseEngineHold drops the hold. The association is closed; taking
// a.mu orders the drop after any reader started (and counted) under a.mu
// by someone who still saw it open.
func (a *Association) releaseEngineHold() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ep.release()
}

// shimConn is the net.Conn pion's association runs over. Inbound, the
// association's receive path queues packets already checked and filtered;
// outbound, every packet pion writes goes through Association.output.
//
// The inbound queue is a slice of pooled packet buffers that grows with
// bursts and, drained, keeps its backing array only when that is small
// (shimKept): an idle association holds at most that, one packet at a
// time allocates nothing, and a channel of shimQueue slots would cost
// 24 KiB each.
type shimConn struct {
	a      *Association
	mu     sync.Mutex
	queue  fifo[shimPacket]
	ready  chan struct{} // a token while the queue is not empty
	closed chan struct{}
	once   sync.Once
	// nextRead, when set, is closed the next time pion's read loop comes
	// back for a packet: pion is then through with the packets before
	// (see readReturn).
	nextRead atomic.Pointer[chan struct{}]
	// lent is the Bind whose reads pion's read loop took over (see
	// readThrough); only that goroutine touches it. reading is set while
	// it is in a read of the Bind: the receive path runs on it then.
	lent    udpencap.ReadThrougher
	reading atomic.Bool

	// handled is the wake list of the packet Read returned last, to read
	// once pion handled it (at the next Read); only pion's read loop
	// touches it.
	handled wakeList
}

// shimPacket is an inbound packet for pion, in a buffer of packetPool,
// with the streams to read once pion handled it.
type shimPacket struct {
	bp    *[]byte
	wakes wakeList
}

// shimQueue is how many inbound packets wait for pion's read loop; past
// that they are dropped and counted, as a full router queue would.
const shimQueue = 1024

// shimKept is the largest backing array a drained inbound queue keeps.
const shimKept = 16

// readReturn returns a channel closed the next time pion's read loop
// calls Read, which it does only after it handled the packet it read
// before (pion's readLoop: Read, then handleInbound). What pion does
// while handling one packet is then done.
func (c *shimConn) readReturn() <-chan struct{} {
	for {
		if p := c.nextRead.Load(); p != nil {
			return *p
		}
		ch := make(chan struct{})
		if c.nextRead.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

// Read hands pion the next inbound packet. While the association is
// the stack's only one, the goroutine that calls it (pion's read loop)
// reads the stack's socket itself when the queue is empty (see
// readThrough); otherwise it waits for the receive path to queue one.
func (c *shimConn) Read(b []byte) (int, error) {
	if c.nextRead.Load() != nil {
		if p := c.nextRead.Swap(nil); p != nil {
			close(*p)
		}
	}
	if c.handled.n > 0 {
		// pion handled the packet returned last: its messages are ready.
		w := c.handled
		c.handled = wakeList{}
		c.a.readWoken(&w)
	}
	for {
		c.mu.Lock()
		if p, ok := c.queue.pop(shimKept); ok {
			bp := p.bp
			c.handled = p.wakes
			c.mu.Unlock()
			n := copy(b, *bp)
			*bp = (*bp)[:0]
			packetPool.Put(bp)
			return n, nil
		}
		c.mu.Unlock()
		if c.readThrough() {
			continue
		}
		select {
		case <-c.ready:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
}

func (c *shimConn) Write(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.a.output(b)
	return len(b), nil
}

// push queues an inbound packet for pion, in bp, a buffer of packetPool
// that Read puts back, with the streams to read once pion handled it;
// false when the queue is full (bp is the caller's again).
func (c *shimConn) push(bp *[]byte, wakes wakeList) bool {
	c.mu.Lock()
	if c.queue.len() >= shimQueue {
		c.mu.Unlock()
		return false
	}
	c.queue.push(shimPacket{bp: bp, wakes: wakes})
	c.mu.Unlock()
	signal(c.ready)
	return true
}

// closedC is closed when pion closed its association.
func (c *shimConn) closedC() <-chan struct{} { return c.closed }

// Close is pion closing its association.
func (c *shimConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.endReadThrough()
	})
	c.a.engineClosed()
	return nil
}

type shimAddr struct{}

func (shimAddr) Network() string { return "sctp-udp" }

func (shimAddr) String() string { return "shim" }

func (c *shimConn) LocalAddr() net.Addr { return shimAddr{} }

func (c *shimConn) RemoteAddr() net.Addr { return shimAddr{} }

func (c *shimConn) SetDeadline(t time.Time) error { return nil }

func (c *shimConn) SetReadDeadline(t time.Time) error { return nil }

func (c *shimConn) SetWriteDeadline(t time.Time) error { return nil }

func newShimConn(a *Association) *shimConn {
	return &shimConn{a: a, ready: make(chan struct{}, 1), closed: make(chan struct{})}
}

var packetPool = sync.Pool{New: func() any { b := make([]byte, 0, maxPacketSize+wire.CommonHeaderSize); return &b }}
