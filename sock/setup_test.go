package sock

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCookieAckPrecedesEngine: the side that takes the COOKIE-ECHO sends
// the COOKIE-ACK before it makes pion's association, so that the peer
// goes on with its part of the handshake meanwhile.
func TestCookieAckPrecedesEngine(t *testing.T) {
	var mu sync.Mutex
	sent := map[*Endpoint]uint64{} // packets out on the primary when pion's association is made
	testHookEngineCreate = func(a *Association) {
		a.mu.Lock()
		p := a.ps.main()
		a.mu.Unlock()
		out, _, _, _ := p.counters()
		mu.Lock()
		sent[a.ep] = out
		mu.Unlock()
	}
	t.Cleanup(func() { testHookEngineCreate = nil })
	p := newPair(t)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, sent, p.listener)
	require.Equal(t, uint64(1), sent[p.listener], "the COOKIE-ACK, and only it, before pion's association")
	require.Equal(t, StateEstablished, p.serverAssoc.State())
}
