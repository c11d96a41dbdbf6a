// Package vnettest builds the in-memory networks the tests and benchmarks
// run multi-homed associations on: two hosts with two addresses each on
// one pion vnet router, and a filter that cuts or thins out one "path"
// (one /24) in both directions. Create it inside a testing/synctest bubble
// for deterministic time.
package vnettest

import (
	"net"
	"net/netip"
	"sync"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
)

// The hosts' addresses: path 1 is 10.0.1.0/24, path 2 is 10.0.2.0/24.
var (
	A1 = netip.MustParseAddr("10.0.1.1")
	A2 = netip.MustParseAddr("10.0.2.1")
	B1 = netip.MustParseAddr("10.0.1.2")
	B2 = netip.MustParseAddr("10.0.2.2")
)

// World is two multi-homed hosts, A and B, on one router.
type World struct {
	Router *vnet.Router
	A, B   *vnet.Net

	mu   sync.Mutex
	cut  map[int]bool
	loss map[int]float64
	rnd  uint64
}

// New builds and starts the world; seed makes the loss reproducible.
func New(seed uint64) (*World, error) {
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/8", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		return nil, err
	}
	w := &World{Router: router, cut: map[int]bool{}, loss: map[int]float64{}, rnd: seed | 1}
	router.AddChunkFilter(w.filter)
	if w.A, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{A1.String(), A2.String()}}); err != nil {
		return nil, err
	}
	if w.B, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{B1.String(), B2.String()}}); err != nil {
		return nil, err
	}
	if err := router.AddNet(w.A); err != nil {
		return nil, err
	}
	if err := router.AddNet(w.B); err != nil {
		return nil, err
	}
	return w, router.Start()
}

// Close stops the router.
func (w *World) Close() error { return w.Router.Stop() }

// Path returns the path number of an address (the third byte).
func Path(a netip.Addr) int { return int(a.As4()[2]) }

func (w *World) filter(c vnet.Chunk) bool {
	udp, ok := c.SourceAddr().(*net.UDPAddr)
	if !ok {
		return true
	}
	p := Path(udp.AddrPort().Addr().Unmap())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut[p] {
		return false
	}
	if l := w.loss[p]; l > 0 {
		// xorshift64*: deterministic under synctest.
		w.rnd ^= w.rnd >> 12
		w.rnd ^= w.rnd << 25
		w.rnd ^= w.rnd >> 27
		if float64((w.rnd*2685821657736338717)>>11)/float64(1<<53) < l {
			return false
		}
	}
	return true
}

// SetCut cuts (or restores) a path in both directions.
func (w *World) SetCut(path int, cut bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cut[path] = cut
}

// SetLoss drops the share l of a path's packets, both directions.
func (w *World) SetLoss(path int, l float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loss[path] = l
}
