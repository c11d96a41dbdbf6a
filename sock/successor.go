package sock

// Successor returns the association that replaced a after the peer
// restarted (RFC 9260 section 5.2.4 action A; EventRestart names it), or
// nil when a was not replaced. It waits until a restart under way is
// through. Code that keys state by association (as package sctp's event
// dispatch does) follows a restart with it, as Conn does.
func (a *Association) Successor() *Association { return a.successor() }
