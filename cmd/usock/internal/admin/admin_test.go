package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/usock/usock/cmd/usock/internal/admin"
	"github.com/usock/usock/sock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", url, resp.Status, err)
	}
	return string(b)
}

func TestAdminServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	server, _ := sock.NewStack(sock.WithUDPPort(0))
	defer server.Close()
	client, _ := sock.NewStack(sock.WithUDPPort(0))
	defer client.Close()
	lep, err := server.NewEndpoint(lo, 3868, sock.AcceptMax(2))
	if err != nil {
		t.Fatal(err)
	}
	cep, _ := client.NewEndpoint(lo, 40000)
	a, err := cep.Connect(ctx, lo, 3868, sock.WithRemoteUDPPort(server.UDPPort()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, []byte("x"), sock.SendInfo{Stream: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := lep.Recv(ctx); err != nil {
		t.Fatal(err)
	}

	srv, err := admin.Serve("127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := "http://" + srv.Addr().String()

	var snap admin.Snapshot
	if err := json.Unmarshal([]byte(get(t, base+"/stats")), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.UDPPort != server.UDPPort() || len(snap.Stack.Sockets) != 1 || snap.Stack.Sockets[0].RxDatagrams == 0 {
		t.Errorf("stack part: %+v", snap)
	}
	if len(snap.Endpoints) != 1 || snap.Endpoints[0].Port != 3868 || len(snap.Endpoints[0].Associations) != 1 {
		t.Fatalf("endpoints: %+v", snap.Endpoints)
	}
	as := snap.Endpoints[0].Associations[0]
	if as.PeerPort != 40000 || as.State != "ESTABLISHED" || as.Stats.MessagesIn != 1 || as.StreamsOut != 16 ||
		len(as.Paths) != 1 || as.Paths[0].State != "active" || as.Paths[0].Remote != lo[0] {
		t.Errorf("association: %+v", as)
	}
	if m := get(t, base+"/metrics"); !strings.Contains(m, "usock_association_messages_in_total{") {
		t.Errorf("/metrics:\n%s", m)
	}
	if !strings.Contains(get(t, base+"/"), "/stats") {
		t.Error("no index")
	}
	if err := srv.Close(); err != nil {
		t.Error(err)
	}
}
