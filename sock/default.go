package sock

import "net/netip"

// Erlang sock's global calls, on the default stack (Default: UDP port 9899,
// created on first use).

// NewEndpoint creates an endpoint on the default stack (Erlang sock's
// create_ep); see Stack.NewEndpoint.
func NewEndpoint(addrs []netip.Addr, port uint16, opts ...EndpointOption) (*Endpoint, error) {
	s, err := Default()
	if err != nil {
		return nil, err
	}
	return s.NewEndpoint(addrs, port, opts...)
}

// Endpoints returns the default stack's endpoints (Erlang sock's get_eps);
// none when it was never created.
func Endpoints() []*Endpoint {
	if s := existingDefault(); s != nil {
		return s.Endpoints()
	}
	return nil
}

// GetEndpoint returns the default stack's endpoint at (addr, port) (Erlang
// sock's get_ep), or an error wrapping ErrNotFound.
func GetEndpoint(addr netip.Addr, port uint16) (*Endpoint, error) {
	s, err := Default()
	if err != nil {
		return nil, err
	}
	return s.Endpoint(addr, port)
}

// FindAssociation finds an association of the default stack by its local
// and remote transport addresses (Erlang sock's find_assoc).
func FindAssociation(laddr netip.Addr, lport uint16, raddr netip.Addr, rport uint16) (*Association, error) {
	s, err := Default()
	if err != nil {
		return nil, err
	}
	return s.FindAssociation(laddr, lport, raddr, rport)
}

func existingDefault() *Stack {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	return defaultStack
}
