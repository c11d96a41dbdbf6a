package harness

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"github.com/usock/usock/sock"
)

// Loopback is 127.0.0.1.
var Loopback = netip.MustParseAddr("127.0.0.1")

// UsockServer is an accepting endpoint of this stack on 127.0.0.1 that
// answers every association's messages with a Handler.
type UsockServer struct {
	Stack    *sock.Stack
	EP       *sock.Endpoint
	H        *Handler
	Received chan struct{} // one token per message received (if not nil)
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// StartUsockServer starts a server on its own stack (a free UDP port, and
// stackOpts).
func StartUsockServer(mode string, maxAssocs int, stackOpts []sock.StackOption, opts ...sock.EndpointOption) (*UsockServer, error) {
	st, err := sock.NewStack(append([]sock.StackOption{sock.WithUDPPort(0)}, stackOpts...)...)
	if err != nil {
		return nil, err
	}
	ep, err := st.NewEndpoint([]netip.Addr{Loopback}, 0, append(opts, sock.AcceptMax(maxAssocs))...)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &UsockServer{Stack: st, EP: ep, H: &Handler{Mode: mode}, cancel: cancel}
	s.wg.Go(func() {
		for {
			m, err := ep.Recv(ctx)
			if err != nil {
				return
			}
			if r := s.H.Handle(m.Payload); r != nil {
				_ = m.Association.Send(ctx, r, sock.SendInfo{Stream: m.Stream, PPID: m.PPID})
			}
		}
	})
	s.wg.Go(func() { // events are dropped when nobody reads them; read them anyway
		for {
			if _, err := ep.Event(ctx); err != nil {
				return
			}
		}
	})
	return s, nil
}

// Close ends the server.
func (s *UsockServer) Close() {
	s.cancel()
	_ = s.EP.Close()
	s.wg.Wait()
	_ = s.Stack.Close()
}

// UsockConn is an association of a client endpoint.
type UsockConn struct {
	EP    *sock.Endpoint
	A     *sock.Association
	owned *sock.Stack // closed with the connection
}

// DialUsock connects a new endpoint on st (or on a new stack when st is
// nil, made with stackOpts) to the server at 127.0.0.1, UDP port udpPort,
// SCTP port port.
func DialUsock(ctx context.Context, st *sock.Stack, stackOpts []sock.StackOption, udpPort, port uint16, opts ...sock.EndpointOption) (*UsockConn, error) {
	c := &UsockConn{}
	if st == nil {
		var err error
		if st, err = sock.NewStack(append([]sock.StackOption{sock.WithUDPPort(0)}, stackOpts...)...); err != nil {
			return nil, err
		}
		c.owned = st
	}
	ep, err := st.NewEndpoint([]netip.Addr{Loopback}, 0, opts...)
	if err != nil {
		c.closeStack()
		return nil, err
	}
	a, err := ep.Connect(ctx, []netip.Addr{Loopback}, port, sock.WithRemoteUDPPort(udpPort))
	if err != nil {
		_ = ep.Close()
		c.closeStack()
		return nil, err
	}
	c.EP, c.A = ep, a
	return c, nil
}

func (c *UsockConn) closeStack() {
	if c.owned != nil {
		_ = c.owned.Close()
	}
}

// Send implements Conn.
func (c *UsockConn) Send(p []byte) error {
	return c.A.Send(context.Background(), p, sock.SendInfo{})
}

// Recv implements Conn.
func (c *UsockConn) Recv() ([]byte, error) {
	m, err := c.EP.Recv(context.Background())
	if err != nil {
		return nil, err
	}
	return m.Payload, nil
}

// Close aborts the association and closes the endpoint (and the stack if
// DialUsock made it).
func (c *UsockConn) Close() error {
	err := c.EP.Close()
	c.closeStack()
	if err != nil && !errors.Is(err, sock.ErrClosed) {
		return err
	}
	return nil
}
