package udpencap

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onReadThrough reports whether the calling goroutine is inside
// Transport.ReadThrough, from its stack.
func onReadThrough() bool {
	pc := make([]uintptr, 64)
	frames := runtime.CallersFrames(pc[:runtime.Callers(1, pc)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, ".(*Transport).ReadThrough") {
			return true
		}
		if !more {
			return false
		}
	}
}

// seqReceiver records the sequence number (the Verification Tag) of
// every packet and on which goroutine it was delivered.
type seqReceiver struct {
	mu      sync.Mutex
	seqs    []uint32
	through []bool
	arrived chan struct{}
}

func (r *seqReceiver) ReceivePacket(pkt []byte, meta Meta) {
	r.mu.Lock()
	r.seqs = append(r.seqs, binary.BigEndian.Uint32(pkt[4:8]))
	r.through = append(r.through, onReadThrough())
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
}

func (r *seqReceiver) snapshot() ([]uint32, []bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint32(nil), r.seqs...), append([]bool(nil), r.through...)
}

func openSeq(t *testing.T, cfg Config) (*Transport, *seqReceiver) {
	t.Helper()
	r := &seqReceiver{arrived: make(chan struct{}, 1)}
	cfg.Receiver = r
	tr, err := Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, tr.Close()) })
	return tr, r
}

// readUntil calls ReadThrough for owner until n packets arrived.
func readUntil(tr *Transport, r *seqReceiver, owner any, n int) error {
	for {
		if seqs, _ := r.snapshot(); len(seqs) >= n {
			return nil
		}
		ok, err := tr.ReadThrough(owner, nil)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("ReadThrough did not take the reads")
		}
	}
}

// waitBorrowedRead waits until owner has the reads and a read is under
// way: what is sent from now on is read through.
func waitBorrowedRead(tr *Transport, owner any) {
	rt := &tr.socks[0].turn
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for rt.reading != owner {
		rt.mu.Unlock()
		runtime.Gosched()
		rt.mu.Lock()
	}
}

// waitArrived waits until n packets arrived.
func waitArrived(r *seqReceiver, n int) {
	for {
		if seqs, _ := r.snapshot(); len(seqs) >= n {
			return
		}
		<-r.arrived
	}
}

// readThroughBurst reads through for owner while send runs, until n
// packets arrived. The reads may pass to owner in the middle of the
// burst; whatever the socket's goroutine read is delivered by it, so
// once n arrived a ReadThrough may wait for a datagram that never comes:
// EndReadThrough then ends it, and the reads go back.
func readThroughBurst(t *testing.T, tr *Transport, r *seqReceiver, owner any, n int, send func()) {
	t.Helper()
	sent := make(chan struct{})
	go func() { send(); close(sent) }()
	ended := make(chan struct{})
	go func() {
		waitArrived(r, n)
		// done first, as ReadThrough's contract needs: a ReadThrough
		// starting after EndReadThrough then sees it closed.
		close(ended)
		tr.EndReadThrough(owner)
	}()
	for {
		select {
		case <-ended:
			<-sent
			return
		default:
		}
		if _, err := tr.ReadThrough(owner, ended); err != nil {
			t.Fatal(err)
		}
	}
}

// A goroutine reading through gets the datagrams delivered on itself, in
// order, with none lost when the reads pass from the socket's goroutine
// to it and back.
func TestReadThroughTakesAndGivesBackReads(t *testing.T) {
	bothModes(t, func(t *testing.T, disable bool) {
		rx, r := openSeq(t, Config{DisableBatching: disable})
		tx := openT(t, Config{DisableBatching: disable})
		to := rx.LocalAddrs()[0]
		seq := uint32(0)
		send := func(n int) {
			for range n {
				seq++
				if err := tx.Send(makePacket(1, 2, seq, nil), netip.Addr{}, to); err != nil {
					panic(err)
				}
			}
		}
		owner := new(int)
		total := 0
		for round := range 4 {
			// Read through from the middle of a burst on: the handover
			// must neither lose nor reorder any.
			total += 50
			readThroughBurst(t, rx, r, owner, total, func() { send(50) })
			// Sent while a ReadThrough waits: delivered on it.
			read := make(chan error, 1)
			go func(n int) { read <- readUntil(rx, r, owner, n) }(total + 5)
			waitBorrowedRead(rx, owner)
			send(5)
			total += 5
			require.NoError(t, <-read)
			seqs, through := r.snapshot()
			for i := len(seqs) - 5; i < len(seqs); i++ {
				assert.True(t, through[i], "round %d: packet %d came through the socket's goroutine while borrowed", round, seqs[i])
			}
			rx.EndReadThrough(owner)
			send(5)
			total += 5
			waitArrived(r, total)
			seqs, through = r.snapshot()
			for i := len(seqs) - 5; i < len(seqs); i++ {
				assert.False(t, through[i], "round %d: packet %d read through after EndReadThrough", round, seqs[i])
			}
		}
		seqs, _ := r.snapshot()
		for i, s := range seqs {
			require.Equal(t, uint32(i+1), s, "datagram %d out of order or lost: %v", i, seqs)
		}
	})
}

func TestReadThroughOneOwnerAtATime(t *testing.T) {
	rx, r := openSeq(t, Config{})
	tx := openT(t, Config{})
	a, b := new(int), new(int)
	for i, owner := range []any{a, b} {
		read := make(chan error, 1)
		go func() { read <- readUntil(rx, r, owner, i+1) }()
		waitBorrowedRead(rx, owner)
		ok, err := rx.ReadThrough(new(int), nil)
		assert.False(t, ok, "a second owner took the reads")
		assert.NoError(t, err)
		rx.EndReadThrough(new(int)) // not the owner: nothing happens
		require.NoError(t, tx.Send(makePacket(1, 2, uint32(i+1), nil), netip.Addr{}, rx.LocalAddrs()[0]))
		require.NoError(t, <-read)
		_, through := r.snapshot()
		assert.True(t, through[i])
		rx.EndReadThrough(owner)
	}
}

// EndReadThrough from another goroutine ends a ReadThrough that waits
// for a datagram; so does closing done, checked before the read.
func TestReadThroughEndedEarly(t *testing.T) {
	rx, _ := openSeq(t, Config{})
	owner := new(int)
	// The first call takes the reads and returns at once: the socket's
	// read goroutine read before.
	ok, err := rx.ReadThrough(owner, nil)
	require.True(t, ok)
	require.NoError(t, err)
	returned := make(chan error)
	go func() {
		ok, err := rx.ReadThrough(owner, nil)
		if err == nil && !ok {
			err = errors.New("not taken")
		}
		returned <- err
	}()
	// ReadThrough may or may not have taken the reads when End runs; if
	// not yet, it takes them after and waits for a datagram, so End is
	// repeated until it returns.
	for done := false; !done; {
		rx.EndReadThrough(owner)
		select {
		case err := <-returned:
			require.NoError(t, err)
			done = true
		default:
			runtime.Gosched()
		}
	}
	done := make(chan struct{})
	close(done)
	ok, err = rx.ReadThrough(owner, done)
	assert.True(t, ok)
	assert.NoError(t, err)
	rt := &rx.socks[0].turn
	rt.mu.Lock()
	assert.Nil(t, rt.borrower, "a closed done left the reads borrowed")
	rt.mu.Unlock()
}

// Close ends a ReadThrough waiting for a datagram, and after Close it
// fails with net.ErrClosed.
func TestReadThroughClose(t *testing.T) {
	r := &seqReceiver{arrived: make(chan struct{}, 1)}
	rx, err := Open(Config{Receiver: r})
	require.NoError(t, err)
	owner := new(int)
	returned := make(chan error)
	go func() {
		for {
			ok, err := rx.ReadThrough(owner, nil)
			if err != nil || !ok {
				returned <- err
				return
			}
		}
	}()
	require.NoError(t, rx.Close())
	err = <-returned
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = rx.ReadThrough(owner, nil)
	assert.ErrorIs(t, err, net.ErrClosed)
}

// A Transport of two sockets cannot be read through: a goroutine reading
// one would hold up the other's datagrams.
func TestReadThroughNotWithTwoSockets(t *testing.T) {
	tr := openT(t, Config{LocalAddrs: []netip.Addr{lo4, netip.MustParseAddr("127.0.0.2")}})
	ok, err := tr.ReadThrough(new(int), nil)
	assert.False(t, ok)
	assert.NoError(t, err)
}

// gatedReceiver blocks the delivery of the packet with tag 1 until gate
// is closed, and says when it started on entered.
type gatedReceiver struct {
	seqReceiver
	entered, gate chan struct{}
}

func (r *gatedReceiver) ReceivePacket(pkt []byte, meta Meta) {
	if binary.BigEndian.Uint32(pkt[4:8]) == 1 {
		close(r.entered)
		<-r.gate
	}
	r.seqReceiver.ReceivePacket(pkt, meta)
}

// When the reads of one owner end while its turn is under way and
// another owner takes them, the end of the first turn lets the second
// go on.
func TestReadThroughNextOwnerAfterEndedTurn(t *testing.T) {
	r := &gatedReceiver{seqReceiver: seqReceiver{arrived: make(chan struct{}, 1)}, entered: make(chan struct{}), gate: make(chan struct{})}
	rx, err := Open(Config{Receiver: r})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, rx.Close()) })
	tx := openT(t, Config{})
	to := rx.LocalAddrs()[0]
	a, b := new(int), new(int)

	aDone := make(chan error, 1)
	go func() { aDone <- readUntil(rx, &r.seqReceiver, a, 1) }()
	waitBorrowedRead(rx, a)
	require.NoError(t, tx.Send(makePacket(1, 2, 1, nil), netip.Addr{}, to))
	<-r.entered // a's turn delivers packet 1 and waits
	rx.EndReadThrough(a)
	bDone := make(chan error, 1)
	go func() { bDone <- readUntil(rx, &r.seqReceiver, b, 2) }()
	rt := &rx.socks[0].turn
	rt.mu.Lock()
	for rt.borrower != b {
		rt.mu.Unlock()
		runtime.Gosched()
		rt.mu.Lock()
	}
	rt.mu.Unlock()
	close(r.gate)
	require.NoError(t, <-aDone)
	require.NoError(t, tx.Send(makePacket(1, 2, 2, nil), netip.Addr{}, to))
	require.NoError(t, <-bDone)
	seqs, through := r.snapshot()
	assert.Equal(t, []uint32{1, 2}, seqs)
	assert.Equal(t, []bool{true, true}, through)
}

// What the socket's read goroutine delivered before the reads were
// taken over may be what the caller waits for: the first ReadThrough
// returns without waiting for a datagram, so that the caller looks first.
// (A caller that looked, found nothing, and then blocked in a read would
// leave a delivered packet unseen.)
func TestReadThroughFirstCallLooksFirst(t *testing.T) {
	rx, r := openSeq(t, Config{})
	tx := openT(t, Config{})
	require.NoError(t, tx.Send(makePacket(1, 2, 1, nil), netip.Addr{}, rx.LocalAddrs()[0]))
	waitArrived(r, 1)
	returned := make(chan bool, 1)
	go func() {
		ok, _ := rx.ReadThrough(new(int), nil)
		returned <- ok
	}()
	select {
	case ok := <-returned:
		assert.True(t, ok)
	case <-time.After(10 * time.Second):
		// Only keeps a broken build from hanging; nothing else is sent.
		t.Fatal("ReadThrough waited for a datagram after the read goroutine's turn")
	}
}

// WakeReadThrough ends a ReadThrough waiting for a datagram, without
// taking the reads back, and one that came while the owner was not
// reading makes its next ReadThrough return at once; the owner then reads
// through as before. It does nothing for an owner without the reads.
func TestWakeReadThrough(t *testing.T) {
	rx, r := openSeq(t, Config{})
	owner := new(int)
	// The first call takes the reads and returns at once: the socket's
	// read goroutine read before.
	ok, err := rx.ReadThrough(owner, nil)
	require.True(t, ok)
	require.NoError(t, err)

	returned := make(chan error, 1)
	go func() {
		_, err := rx.ReadThrough(owner, nil)
		returned <- err
	}()
	waitBorrowedRead(rx, owner)
	rx.WakeReadThrough(owner)
	require.NoError(t, <-returned, "woken while reading")

	rx.WakeReadThrough(owner) // not reading now
	ok, err = rx.ReadThrough(owner, nil)
	require.True(t, ok)
	require.NoError(t, err, "returns at once: nothing was sent")

	rt := &rx.socks[0].turn
	rt.mu.Lock()
	require.Equal(t, any(owner), rt.borrower, "the reads stay lent")
	rt.mu.Unlock()

	rx.WakeReadThrough(new(int)) // not the borrower: nothing
	tx, _ := openSeq(t, Config{})
	go func() {
		for i := range 3 {
			_ = tx.Send(makePacket(1, 2, uint32(i), nil), netip.Addr{}, rx.LocalAddrs()[0])
		}
	}()
	require.NoError(t, readUntil(rx, r, owner, 3))
	seqs, through := r.snapshot()
	require.Equal(t, []uint32{0, 1, 2}, seqs)
	require.Equal(t, []bool{true, true, true}, through)
	rx.EndReadThrough(owner)
}
