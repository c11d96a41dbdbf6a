// Package admin is the admin HTTP endpoint of the usock command: GET
// /stats answers a JSON Snapshot of a stack (its counters, endpoints,
// associations and paths), GET /metrics the Prometheus metrics of package
// metrics.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/usock/usock/metrics"
	"github.com/usock/usock/sock"
	"github.com/usock/usock/udpencap"
)

// Snapshot is the answer of GET /stats. The JSON keys are the Go field
// names; counters embedded from udpencap and sock keep theirs, so fields
// added there appear here without a change.
type Snapshot struct {
	Time      time.Time
	UDPPort   uint16
	Stack     StackStats
	Endpoints []Endpoint
}

// StackStats are the stack's counters (sock.Stats), sockets sorted by
// address.
type StackStats struct {
	OOTBReplies uint64
	OOTBDropped uint64
	// Drops counts what the stack discarded, by reason (sock.Stats.Drops).
	Drops   map[sock.DropReason]uint64
	Sockets []Socket
}

// Socket is one UDP encapsulation socket with its counters; the counters
// are udpencap.Stats's fields under their Go names.
type Socket struct {
	Local netip.AddrPort
	udpencap.Stats
}

// Endpoint is one endpoint and its associations.
type Endpoint struct {
	Addrs        []netip.Addr
	Port         uint16
	Associations []Association
}

// Association is one association: its identity, state, streams, counters
// (sock.AssociationStats's fields under their Go names) and paths.
type Association struct {
	Name       string
	State      string
	PeerPort   uint16
	StreamsOut uint16
	StreamsIn  uint16
	Stats      sock.AssociationStats
	Paths      []Path
}

// Path is one path: sock.Path's fields under their Go names, with the
// state as text.
type Path struct {
	sock.Path
	State string
}

// Take returns a snapshot of the stack.
func Take(s *sock.Stack) Snapshot {
	st := s.Stats()
	snap := Snapshot{
		Time:    time.Now().UTC(),
		UDPPort: s.UDPPort(),
		Stack: StackStats{
			OOTBReplies: st.OOTBReplies,
			OOTBDropped: st.OOTBDropped,
			Drops:       st.Drops,
			Sockets:     []Socket{},
		},
		Endpoints: []Endpoint{},
	}
	for a, ss := range st.Sockets {
		snap.Stack.Sockets = append(snap.Stack.Sockets, Socket{Local: netip.AddrPortFrom(a, s.UDPPort()), Stats: ss})
	}
	slices.SortFunc(snap.Stack.Sockets, func(x, y Socket) int { return x.Local.Compare(y.Local) })
	for _, ep := range s.Endpoints() {
		e := Endpoint{Addrs: ep.Addrs(), Port: ep.Port(), Associations: []Association{}}
		for _, a := range ep.Associations() {
			out, in := a.Streams()
			as := Association{
				Name: a.String(), State: a.State().String(), PeerPort: a.PeerPort(),
				StreamsOut: out, StreamsIn: in, Stats: a.Stats(), Paths: []Path{},
			}
			for _, p := range a.Paths() {
				as.Paths = append(as.Paths, Path{Path: p, State: p.State.String()})
			}
			e.Associations = append(e.Associations, as)
		}
		snap.Endpoints = append(snap.Endpoints, e)
	}
	return snap
}

// Handler serves GET /stats (the JSON Snapshot of s) and GET /metrics
// (Prometheus).
func Handler(s *sock.Stack) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(Take(s))
	})
	mux.Handle("GET /metrics", metrics.Handler(s))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "usock admin: GET /stats (JSON), GET /metrics (Prometheus)")
	})
	return mux
}

// Server is a running admin endpoint.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	done     chan error
	once     sync.Once
	closeErr error
}

// Serve starts the admin endpoint of s on the TCP address addr.
func Serve(addr string, s *sock.Stack) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	srv := &Server{
		srv:  &http.Server{Handler: Handler(s), ReadHeaderTimeout: 5 * time.Second},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { srv.done <- srv.srv.Serve(ln) }()
	return srv, nil
}

// Addr returns the address the endpoint listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the endpoint, letting requests in progress finish for at
// most a second. It is idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = s.srv.Close()
		}
		if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		s.closeErr = err
	})
	return s.closeErr
}
