package testkit

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
)

// LoopPair is an association on loopback between a listening endpoint
// on one stack and a connecting endpoint on another.
type LoopPair struct {
	ServerStack, ClientStack *sock.Stack
	Listener, Dialer         *sock.Endpoint
	Client, Server           *sock.Association // the dialer's and the listener's side
}

// NewLoopPair makes the two stacks and endpoints (the listener with
// serverOpts) and connects them.
func NewLoopPair(t testing.TB, serverOpts ...sock.EndpointOption) *LoopPair {
	t.Helper()
	p := &LoopPair{ServerStack: NewStack(t), ClientStack: NewStack(t)}
	var err error
	p.Listener, err = p.ServerStack.NewEndpoint(nil, 0, append([]sock.EndpointOption{sock.AcceptMax(1000)}, serverOpts...)...)
	require.NoError(t, err)
	p.Dialer, err = p.ClientStack.NewEndpoint(nil, 0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.Client, err = p.Dialer.Connect(ctx, []netip.Addr{Lo4}, p.Listener.Port(), sock.WithRemoteUDPPort(p.ServerStack.UDPPort()))
	require.NoError(t, err)
	p.Server = WaitEvent(t, p.Listener, 10*time.Second, Want{Type: sock.EventUp}).Association
	return p
}
