package reliability

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/internal/rawpeer"
	"github.com/usock/usock/internal/testkit"
	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/sock"
)

// rawAssoc is an association between a raw peer and an endpoint.
type rawAssoc struct {
	*rawpeer.Assoc
	ep    *sock.Endpoint
	ack   wire.Init // the stack's INIT-ACK
	assoc *sock.Association
}

// establish runs the handshake by hand with the given INIT from SCTP
// port port.
func establish(t testing.TB, r *rawpeer.Peer, ep *sock.Endpoint, port uint16, init wire.Init) *rawAssoc {
	t.Helper()
	ra := &rawAssoc{Assoc: rawpeer.NewAssoc(r, port, ep.Port()), ep: ep}
	ra.assoc, ra.ack = testkit.RawAssociate(t, ra.Assoc, ep, init)
	return ra
}

// recvWithin returns the next message on the endpoint, or false after d.
func recvWithin(ep *sock.Endpoint, d time.Duration) (sock.Message, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := ep.Recv(ctx)
	return m, err == nil
}

// alive checks the association still carries a message from the raw peer.
func (ra *rawAssoc) alive(t testing.TB) {
	t.Helper()
	require.Equal(t, sock.StateEstablished, ra.assoc.State())
	ra.SendAssoc(ra.Data(0, "still alive"))
	m, ok := recvWithin(ra.ep, 5*time.Second)
	require.True(t, ok, "a message after the hostile input")
	require.Equal(t, "still alive", string(m.Payload))
}
