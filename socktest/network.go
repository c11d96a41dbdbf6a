package socktest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"

	"github.com/usock/usock/sock"
)

// ErrNetwork is wrapped by the errors of building a Network (an address
// outside the network's prefix, taken, or not IPv4; a host name used
// twice; a call after Close).
var ErrNetwork = errors.New("socktest: network")

// DefaultPrefix is the address space of a Network unless WithPrefix says
// otherwise.
var DefaultPrefix = netip.MustParsePrefix("10.0.0.0/8")

// Option configures a Network.
type Option func(*config)

type config struct {
	seed    uint64
	prefix  netip.Prefix
	mtu     int
	udpPort uint16
}

// WithSeed sets the seed every random draw of the network (loss, delay,
// duplication, corruption) derives from. The default is 1. The same seed
// and the same scenario under testing/synctest give the same run.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithPrefix sets the network's address space (IPv4 only; default
// DefaultPrefix). Every host address must lie in it.
func WithPrefix(p netip.Prefix) Option { return func(c *config) { c.prefix = p.Masked() } }

// WithMTU makes the network drop every UDP datagram whose IPv4 packet (the
// payload plus 20 bytes of IP and 8 of UDP header) exceeds mtu bytes, as a
// link with that MTU and the DF bit set would; they are counted in
// Counters.TooBig. Zero (the default) sets no limit: pion's vnet carries
// datagrams of any size.
func WithMTU(mtu int) Option { return func(c *config) { c.mtu = mtu } }

// WithUDPPort sets the UDP encapsulation port of the stacks Host.Stack
// makes (default sock.DefaultUDPPort, so that peers find each other
// without sock.WithRemoteUDPPort).
func WithUDPPort(port uint16) Option { return func(c *config) { c.udpPort = port } }

// vnetMu serialises the construction of vnet routers and nets: vnet.NewNet
// increments a package-level counter without a lock (newMACAddress), so
// parallel tests building networks would race.
var vnetMu sync.Mutex

// udpIPv4Overhead is what an IPv4 packet adds to a UDP payload: the IPv4
// header (20 bytes, no options) and the UDP header (8).
const udpIPv4Overhead = 28

// Network is an in-memory IPv4 network: one pion vnet router, the hosts
// added to it, and the Links that impair the packets crossing it.
//
// Its state is owned by mu, entered by the test's goroutines (AddHost,
// Link, the Link setters, Counters, Close), by the router's goroutine
// (filter, once per packet) and by the timer goroutine that sends the
// delayed packets on (fire).
type Network struct {
	tb     testing.TB
	cfg    config
	router *vnet.Router
	// inject puts a packet back into the router: a vnet.DuplicationFilter
	// that copies every packet it is given, with no extra delay (pion's
	// vnet has no other way in from outside the package).
	inject   *vnet.DuplicationFilter
	injectFn vnet.ChunkFilter

	mu       sync.Mutex
	closed   bool
	hosts    []*Host
	byName   map[string]*Host
	byAddr   map[netip.Addr]*Host
	links    []*Link
	linkKey  map[linkKey]*Link
	counters Counters
	// reinject counts, per chunk tag, the copies on their way back into
	// the router (delayed or duplicated): they pass the filter untouched.
	reinject map[string]int
	// occurrences counts the datagrams seen per packetHash, so that equal
	// datagrams (a repeated SACK) draw differently. It grows by one entry
	// per distinct datagram: a test network, not a long-running one.
	occurrences map[uint64]uint32
	queue       delayQueue
	timer       *time.Timer
	seq         uint64
}

// NewNetwork builds and starts an empty network. Call it inside the
// testing/synctest bubble (synctest.Test) the test runs in, with that
// bubble's t: the router's goroutine and timers must belong to the bubble.
//
// Errors are reported with tb.Fatalf and Close is registered with
// tb.Cleanup. With a nil tb (outside a test, as in an Example) errors
// panic (with the error as the panic value) and the caller must call
// Close.
func NewNetwork(tb testing.TB, opts ...Option) *Network {
	if tb != nil {
		tb.Helper()
	}
	cfg := config{seed: 1, prefix: DefaultPrefix, udpPort: sock.DefaultUDPPort}
	for _, o := range opts {
		o(&cfg)
	}
	n := &Network{
		tb:       tb,
		cfg:      cfg,
		byName:   map[string]*Host{},
		byAddr:   map[netip.Addr]*Host{},
		linkKey:  map[linkKey]*Link{},
		reinject: map[string]int{},

		occurrences: map[uint64]uint32{},
	}
	if err := n.start(); err != nil {
		n.fail(err)
		return nil
	}
	if tb != nil {
		tb.Cleanup(func() {
			if err := n.Close(); err != nil {
				tb.Errorf("socktest: closing the network: %v", err)
			}
		})
	}
	return n
}

func (n *Network) start() error {
	if !n.cfg.prefix.Addr().Is4() {
		return fmt.Errorf("%w: prefix %v is not IPv4 (pion's vnet routes one IPv4 prefix)", ErrNetwork, n.cfg.prefix)
	}
	vnetMu.Lock()
	router, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR: n.cfg.prefix.String(), LoggerFactory: logging.NewDefaultLoggerFactory(),
	})
	vnetMu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: router: %w", ErrNetwork, err)
	}
	n.inject, err = vnet.NewDuplicationFilter(router, vnet.WithDuplicationProbability(1),
		vnet.WithDuplicationImmediate(), vnet.WithDuplicationSeed(int64(n.cfg.seed)))
	if err != nil {
		return fmt.Errorf("%w: injector: %w", ErrNetwork, err)
	}
	n.injectFn = n.inject.ChunkFilter()
	router.AddChunkFilter(n.filter)
	if err := router.Start(); err != nil {
		return fmt.Errorf("%w: starting the router: %w", ErrNetwork, err)
	}
	n.router = router
	return nil
}

// fail reports err: tb.Fatal, or a panic with err as its value.
func (n *Network) fail(err error) {
	if n.tb != nil {
		n.tb.Helper()
		n.tb.Fatal(err)
		return
	}
	panic(err)
}

// Router returns the pion vnet router under the network, for what the kit
// does not offer. Filters added to it run after the network's own.
func (n *Network) Router() *vnet.Router { return n.router }

// AddHost adds a host with the given addresses (at least one, IPv4, in the
// network's prefix, not taken) and returns it. Hosts can be added while
// the network runs.
func (n *Network) AddHost(name string, addrs ...netip.Addr) *Host {
	if n.tb != nil {
		n.tb.Helper()
	}
	h, err := n.addHost(name, addrs)
	if err != nil {
		n.fail(err)
		return nil
	}
	return h
}

func (n *Network) addHost(name string, addrs []netip.Addr) (*Host, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: host %q has no address", ErrNetwork, name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("%w: AddHost after Close", ErrNetwork)
	}
	if _, ok := n.byName[name]; ok {
		return nil, fmt.Errorf("%w: host %q exists", ErrNetwork, name)
	}
	ips := make([]string, 0, len(addrs))
	for i, a := range addrs {
		a = a.Unmap()
		switch {
		case !a.Is4():
			return nil, fmt.Errorf("%w: host %q: %v is not IPv4", ErrNetwork, name, a)
		case !n.cfg.prefix.Contains(a):
			return nil, fmt.Errorf("%w: host %q: %v is outside %v", ErrNetwork, name, a, n.cfg.prefix)
		case n.byAddr[a] != nil || slices.Contains(addrs[:i], a):
			return nil, fmt.Errorf("%w: host %q: %v is taken", ErrNetwork, name, a)
		}
		ips = append(ips, a.String())
	}
	vnetMu.Lock()
	vn, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: ips})
	vnetMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: host %q: %w", ErrNetwork, name, err)
	}
	if err := n.router.AddNet(vn); err != nil {
		return nil, fmt.Errorf("%w: host %q: %w", ErrNetwork, name, err)
	}
	h := &Host{n: n, name: name, addrs: slices.Clone(addrs), net: vn}
	n.hosts = append(n.hosts, h)
	n.byName[name] = h
	for _, a := range addrs {
		n.byAddr[a.Unmap()] = h
	}
	return h, nil
}

// Host returns the host added under name, or nil.
func (n *Network) Host(name string) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byName[name]
}

// Counters returns what the network did to every packet so far: Packets
// is every UDP datagram the router carried (the delayed and duplicated
// copies not counted again), the others sum over the Links.
func (n *Network) Counters() Counters {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.counters
}

// Close closes the stacks made by Host.Stack, drops the packets still
// delayed and stops the router. It is safe to call more than once; after
// it nothing of the network runs. Stacks made otherwise on a host's Net
// must be closed before.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var stacks []*sock.Stack
	for _, h := range n.hosts {
		stacks = append(stacks, h.stacks...)
	}
	n.mu.Unlock()
	var errs []error
	for _, s := range stacks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.mu.Lock()
	if n.timer != nil {
		n.timer.Stop()
	}
	n.queue = nil
	n.mu.Unlock()
	errs = append(errs, n.inject.Close(), n.router.Stop())
	return errors.Join(errs...)
}

// Host is a machine on a Network with one or more addresses.
type Host struct {
	n     *Network
	name  string
	addrs []netip.Addr
	net   *vnet.Net
	// stacks is guarded by n.mu.
	stacks []*sock.Stack
}

// Name returns the name the host was added under.
func (h *Host) Name() string { return h.name }

// Addrs returns the host's addresses, in the order given to AddHost.
func (h *Host) Addrs() []netip.Addr { return slices.Clone(h.addrs) }

// Net returns the host's pion vnet network interface, for sock.WithNet or
// for other code that takes a transport.Net.
func (h *Host) Net() *vnet.Net { return h.net }

// Stack returns a new sock.Stack on the host: sock.WithNet(h.Net()) and
// the network's UDP encapsulation port (WithUDPPort), then opts (which
// may override both). Network.Close closes it; closing it before is fine.
// An error is reported as NewNetwork says.
func (h *Host) Stack(opts ...sock.StackOption) *sock.Stack {
	if h.n.tb != nil {
		h.n.tb.Helper()
	}
	all := append([]sock.StackOption{sock.WithNet(h.net), sock.WithUDPPort(h.n.cfg.udpPort)}, opts...)
	s, err := sock.NewStack(all...)
	if err != nil {
		h.n.fail(fmt.Errorf("socktest: host %q: %w", h.name, err))
		return nil
	}
	h.n.mu.Lock()
	closed := h.n.closed
	if !closed {
		h.stacks = append(h.stacks, s)
	}
	h.n.mu.Unlock()
	if closed {
		_ = s.Close()
		h.n.fail(fmt.Errorf("%w: host %q: Stack after Close", ErrNetwork, h.name))
		return nil
	}
	return s
}

// udpAddrPort returns the address of a vnet chunk's end.
func udpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := u.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
