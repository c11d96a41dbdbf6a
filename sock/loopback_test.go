package sock

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var lo4 = netip.MustParseAddr("127.0.0.1")

// newStack returns a stack on a free UDP port, closed at the end of the test.
func newStack(t testing.TB, opts ...StackOption) *Stack {
	t.Helper()
	s, err := NewStack(append([]StackOption{WithUDPPort(0)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// pair makes a listening endpoint on one stack and a connected association
// from another.
type pair struct {
	server, client   *Stack
	listener, dialer *Endpoint
	clientAssoc      *Association
	serverAssoc      *Association
}

func newPair(t testing.TB, serverOpts ...EndpointOption) *pair {
	t.Helper()
	p := &pair{server: newStack(t), client: newStack(t)}
	var err error
	p.listener, err = p.server.NewEndpoint(nil, 0, append([]EndpointOption{AcceptMax(1000)}, serverOpts...)...)
	require.NoError(t, err)
	p.dialer, err = p.client.NewEndpoint(nil, 0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.clientAssoc, err = p.dialer.Connect(ctx, []netip.Addr{lo4}, p.listener.Port(), WithRemoteUDPPort(p.server.UDPPort()))
	require.NoError(t, err)
	ev, err := p.listener.Event(ctx)
	require.NoError(t, err)
	require.Equal(t, EventUp, ev.Type)
	p.serverAssoc = ev.Association
	return p
}

func recvCtx(t testing.TB, ep *Endpoint) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := ep.Recv(ctx)
	require.NoError(t, err)
	return m
}

func TestConnectAndExchange(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	require.Equal(t, StateEstablished, p.clientAssoc.State())
	require.Equal(t, StateEstablished, p.serverAssoc.State())
	out, in := p.clientAssoc.Streams()
	require.Equal(t, uint16(DefaultStreams), out)
	require.Equal(t, uint16(DefaultStreams), in)

	type msg struct {
		stream uint16
		ppid   uint32
		unord  bool
		size   int
	}
	var msgs []msg
	for i, size := range []int{1, 2, 100, 1000, 1231, 1232, 5000, 65536} {
		msgs = append(msgs, msg{uint16(i % 4), uint32(i + 40), i%2 == 1, size})
	}
	payload := func(m msg) []byte {
		b := make([]byte, m.size)
		for i := range b {
			b[i] = byte(i*7 + int(m.stream) + int(m.ppid))
		}
		return b
	}
	for _, dir := range []struct {
		name     string
		from     *Association
		to       *Endpoint
		expectOn *Association
	}{
		{"client to server", p.clientAssoc, p.listener, p.serverAssoc},
		{"server to client", p.serverAssoc, p.dialer, p.clientAssoc},
	} {
		t.Run(dir.name, func(t *testing.T) {
			for _, m := range msgs {
				require.NoError(t, dir.from.Send(ctx, payload(m), SendInfo{Stream: m.stream, PPID: m.ppid, Unordered: m.unord}))
			}
			got := map[uint32]Message{}
			for range msgs {
				r := recvCtx(t, dir.to)
				got[r.PPID] = r
			}
			for _, m := range msgs {
				r, ok := got[m.ppid]
				require.True(t, ok, "message with PPID %d", m.ppid)
				require.Equal(t, dir.expectOn, r.Association)
				require.Equal(t, m.stream, r.Stream)
				require.True(t, bytes.Equal(payload(m), r.Payload), "payload of %d bytes", m.size)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	require.ErrorIs(t, p.clientAssoc.Send(ctx, nil, SendInfo{}), ErrEmptyMessage)
	require.ErrorIs(t, p.clientAssoc.Send(ctx, make([]byte, DefaultMaxMessageSize+1), SendInfo{}), ErrMessageTooBig)
	require.ErrorIs(t, p.clientAssoc.Send(ctx, []byte("x"), SendInfo{Stream: DefaultStreams}), ErrInvalidStream)
	require.ErrorIs(t, p.clientAssoc.Send(ctx, []byte("x"), SendInfo{Lifetime: time.Second, MaxRetransmits: 1}), ErrInvalidArgument)
}

func TestOrderedStream(t *testing.T) {
	p := newPair(t)
	ctx := context.Background()
	const n = 2000
	go func() {
		for i := range n {
			if err := p.clientAssoc.Send(ctx, []byte(fmt.Sprint(i)), SendInfo{Stream: 3, PPID: 7}); err != nil {
				return
			}
		}
	}()
	for i := range n {
		m := recvCtx(t, p.listener)
		require.Equal(t, fmt.Sprint(i), string(m.Payload))
	}
}
