package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/usock/usock/internal/wire"
	"github.com/usock/usock/metrics"
	"github.com/usock/usock/sock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var lo = netip.MustParseAddr("127.0.0.1")

// pair sets up two stacks on loopback with an association between them and
// exchanges n messages each way.
func pair(t *testing.T, n int) (server, client *sock.Stack, sa, ca *sock.Association) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	server, err = sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	client, err = sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	lep, err := server.NewEndpoint([]netip.Addr{lo}, 0, sock.AcceptMax(4))
	if err != nil {
		t.Fatal(err)
	}
	cep, err := client.NewEndpoint([]netip.Addr{lo}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ca, err = cep.Connect(ctx, []netip.Addr{lo}, lep.Port(), sock.WithRemoteUDPPort(server.UDPPort()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := ca.Send(ctx, []byte(fmt.Sprint("request ", i)), sock.SendInfo{Stream: 1, PPID: 46}); err != nil {
			t.Fatal(err)
		}
		m, err := lep.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sa = m.Association
		if err := sa.Send(ctx, m.Payload, sock.SendInfo{Stream: m.Stream, PPID: m.PPID}); err != nil {
			t.Fatal(err)
		}
		if _, err := cep.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return server, client, sa, ca
}

func TestMetricsCollector(t *testing.T) {
	server, client, sa, ca := pair(t, 3)
	c := metrics.NewCollector(server, client, server, nil) // duplicates and nil ignored

	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// Two stacks, one socket each, one endpoint each, one association each
	// with one path.
	for name, want := range map[string]int{
		"usock_stack_udp_port":                  2,
		"usock_ootb_replies_total":              2,
		"usock_drops_total":                     2 * len(sock.DropReasons()),
		"usock_socket_rx_datagrams_total":       2,
		"usock_socket_rx_dropped_total":         4, // two reasons per socket
		"usock_associations":                    2,
		"usock_association_messages_in_total":   2,
		"usock_association_dropped_total":       6,
		"usock_path_packets_out_total":          2,
		"usock_association_heartbeats_in_total": 2,
		"usock_association_remote_errors_total": 2,
		"usock_association_send_failed_total":   2,
	} {
		if got := testutil.CollectAndCount(c, name); got != want {
			t.Errorf("%s: %d series, want %d", name, got, want)
		}
	}

	cl := metrics.EndpointLabel(ca.Endpoint())
	sl := metrics.EndpointLabel(sa.Endpoint())
	if want := netip.AddrPortFrom(lo, ca.Endpoint().Port()).String(); cl != want {
		t.Errorf("endpoint label %q, want %q", cl, want)
	}
	if want := netip.AddrPortFrom(lo, sa.Endpoint().Port()).String(); metrics.PeerLabel(ca) != want {
		t.Errorf("peer label %q, want %q", metrics.PeerLabel(ca), want)
	}
	expected := fmt.Sprintf(`
# HELP usock_association_messages_out_total Messages sent on the association.
# TYPE usock_association_messages_out_total counter
usock_association_messages_out_total{endpoint=%[1]q,peer=%[2]q,stack="%[3]d"} 3
usock_association_messages_out_total{endpoint=%[2]q,peer=%[1]q,stack="%[4]d"} 3
# HELP usock_association_established 1 if the association is ESTABLISHED, else 0.
# TYPE usock_association_established gauge
usock_association_established{endpoint=%[1]q,peer=%[2]q,stack="%[3]d"} 1
usock_association_established{endpoint=%[2]q,peer=%[1]q,stack="%[4]d"} 1
`, cl, sl, client.UDPPort(), server.UDPPort())
	if err := testutil.CollectAndCompare(c, strings.NewReader(expected),
		"usock_association_messages_out_total", "usock_association_established"); err != nil {
		t.Error(err)
	}
}

func TestMetricsHandler(t *testing.T) {
	server, client, sa, _ := pair(t, 2)
	srv := httptest.NewServer(metrics.Handler(server, client))
	defer srv.Close()

	scrape := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %v", resp.Status)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	body := scrape()
	so := netip.AddrPortFrom(lo, server.UDPPort()).String()
	for _, want := range []string{
		"# TYPE usock_socket_rx_datagrams_total counter",
		"# TYPE usock_path_active gauge",
		fmt.Sprintf(`usock_association_messages_in_total{endpoint=%q,peer=%q,stack="%d"} 2`,
			metrics.EndpointLabel(sa.Endpoint()), metrics.PeerLabel(sa), server.UDPPort()),
		fmt.Sprintf(`usock_socket_rx_dropped_total{reason="bad_checksum",socket=%q,stack="%d"} 0`, so, server.UDPPort()),
		fmt.Sprintf(`usock_path_primary{endpoint=%q,peer=%q,remote="127.0.0.1",stack="%d"} 1`,
			metrics.EndpointLabel(sa.Endpoint()), metrics.PeerLabel(sa), server.UDPPort()),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
	// Datagrams in on the server socket: the handshake and the messages.
	if !strings.Contains(body, fmt.Sprintf(`usock_socket_rx_datagrams_total{socket=%q,stack="%d"} `, so, server.UDPPort())) {
		t.Errorf("no rx datagrams for %v", so)
	}

	// An out-of-the-blue INIT to a port nobody listens on gets an ABORT.
	ep, err := client.NewEndpoint([]netip.Addr{lo}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ep.Connect(ctx, []netip.Addr{lo}, 9, sock.WithRemoteUDPPort(server.UDPPort())); err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	// The server counts its reply once the send returns, which may be
	// after the client read it.
	wantOOTB := fmt.Sprintf(`usock_ootb_replies_total{stack="%d"} 1`, server.UDPPort())
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		body = scrape()
		if strings.Contains(body, wantOOTB) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape lacks %q:\n%s", wantOOTB, body)
		}
	}
	if want := fmt.Sprintf(`usock_endpoints{stack="%d"} 2`, client.UDPPort()); !strings.Contains(body, want) {
		t.Errorf("scrape lacks %q", want)
	}
	// A forged COOKIE-ECHO to the server's endpoint is counted by reason.
	forged := wire.NewPacket(nil, wire.CommonHeader{SrcPort: 7, DstPort: sa.Endpoint().Port(), VerificationTag: 1})
	forged = wire.Finish(must(wire.AppendCookieEcho(forged, make([]byte, 64))))
	uc, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, server.UDPPort())))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	want := fmt.Sprintf(`usock_drops_total{reason="forged_cookie",stack="%d"} 1`, server.UDPPort())
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := uc.Write(forged); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(scrape(), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape lacks %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// After the association is gone its series are gone too.
	if err := sa.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for strings.Contains(scrape(), "usock_association_messages_in_total{") {
		if time.Now().After(deadline) {
			t.Fatal("association series still there after shutdown")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsRegistry(t *testing.T) {
	server, _, _, _ := pair(t, 1)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(metrics.NewCollector(server)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) == 0 {
		t.Fatal("no metric families")
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "usock_") {
			t.Errorf("metric %s without the usock_ prefix", mf.GetName())
		}
	}
}
