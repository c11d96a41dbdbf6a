//go:build interop

package integration

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/usock/usock/sock"
)

// connectTo connects a new endpoint of s to a usrsctp server.
func connectTo(t *testing.T, s *sock.Stack, udp, port uint16, remote ...netip.Addr) (*sock.Endpoint, *sock.Association) {
	t.Helper()
	if len(remote) == 0 {
		remote = []netip.Addr{lo1}
	}
	ep := newEndpoint(t, s, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a, err := ep.Connect(ctx, remote, port, sock.WithRemoteUDPPort(udp))
	require.NoError(t, err)
	return ep, a
}

// TestEchoFromUsrsctp: our stack connects to a usrsctp echo server and
// checks every echo, 1 B to 64 KiB, several streams and PPIDs, ordered and
// unordered; the UDP port of the path is usrsctp's.
func TestEchoFromUsrsctp(t *testing.T) {
	bin := buildPeer(t)
	s := newStack(t)
	srv, udp, port := startServer(t, bin, "echo", 9) // a wrong remote port: usrsctp must learn ours
	ep, a := connectTo(t, s, udp, port)
	srv.expect(`^UP `, 5*time.Second)

	exchange(t, a, ep, messages(1, 3*len(allSizes), allSizes, 5))

	paths := a.Paths()
	require.Len(t, paths, 1)
	require.Equal(t, lo1, paths[0].Remote)
	require.Equal(t, udp, paths[0].RemoteUDPPort, "the path's UDP port is usrsctp's encapsulation port")
	require.NotEqual(t, s.UDPPort(), udp)
	st := a.Stats()
	require.Zero(t, st.DroppedForeign, "packets from usrsctp dropped as foreign")
	require.Zero(t, st.DroppedStream)
}

// TestSeveralAssociationsToUsrsctp: four endpoints of ours on two stacks
// (two UDP ports) to one usrsctp server, all at once.
func TestSeveralAssociationsToUsrsctp(t *testing.T) {
	bin := buildPeer(t)
	stacks := []*sock.Stack{newStack(t), newStack(t)}
	srv, udp, port := startServer(t, bin, "echo", 9)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep, a := connectTo(t, stacks[i%2], udp, port)
			exchange(t, a, ep, messages(10+i, 2*len(allSizes), allSizes, 4))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, a.Shutdown(ctx))
		}()
	}
	wg.Wait()
	ups, downs := 0, 0
	deadline := time.Now().Add(5 * time.Second)
	for downs < 4 && time.Now().Before(deadline) {
		m := srv.expect(`^(UP|DOWN|ABORT) `, time.Until(deadline))
		switch m[1] {
		case "UP":
			ups++
		case "DOWN":
			downs++
		default:
			t.Fatalf("usrsctp saw an abort: %v", m)
		}
	}
	require.Equal(t, 4, ups)
	require.Equal(t, 4, downs)
}

// TestUsrsctpClient: a usrsctp client connects to our endpoint, we echo,
// it verifies every byte and exits 0. Its local UDP port differs from the
// remote one it was given (ours): the path reports its actual source port
// (RFC 6951 section 5.4). Then it shuts down (we see ReasonShutdown) or
// aborts (ReasonAbortedByPeer).
func TestUsrsctpClient(t *testing.T) {
	for _, abort := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort=%v", abort), func(t *testing.T) {
			bin := buildPeer(t)
			s := newStack(t)
			ep := newEndpoint(t, s, nil, sock.AcceptMax(4))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go echo(ctx, t, ep)
			cudp := freeUDPPort(t)
			args := []string{"-mode", "client", "-udp", fmt.Sprint(cudp), "-rudp", fmt.Sprint(s.UDPPort()),
				"-bind", "127.0.0.1", "-connect", "127.0.0.1", "-rport", fmt.Sprint(ep.Port()), "-n", "40", "-streams", "6",
				"-sizes", "1,7,100,1232,1233,3000,20000,65536"}
			if abort {
				args = append(args, "-abort")
			}
			cl := startPeer(t, bin, "usrsctp client", args...)
			up := waitEvent(t, ep, sock.EventUp, 10*time.Second)
			a := up.Association
			require.NotEqual(t, s.UDPPort(), cudp)
			paths := a.Paths()
			require.Len(t, paths, 1)
			require.Equal(t, lo1, paths[0].Remote)
			require.Equal(t, cudp, paths[0].RemoteUDPPort, "the client's UDP source port")

			cl.expect(`^VERIFIED n=40$`, 30*time.Second, `^FAIL`, `^ABORT`)
			if abort {
				cl.expect(`^CLOSED abort=1`, 10*time.Second)
			} else {
				cl.expect(`^DOWN `, 10*time.Second, `^ABORT`)
			}
			require.NoError(t, cl.wait(10*time.Second), "the client's exit status")
			down := waitEvent(t, ep, sock.EventDown, 10*time.Second)
			require.Same(t, a, down.Association)
			if abort {
				require.Equal(t, sock.ReasonAbortedByPeer, down.Reason)
			} else {
				require.Equal(t, sock.ReasonShutdown, down.Reason)
			}
			require.Zero(t, a.Stats().DroppedForeign)
		})
	}
}

// TestEndOfAssociation: graceful shutdown and abort, started by each side.
func TestEndOfAssociation(t *testing.T) {
	bin := buildPeer(t)
	cases := []struct {
		name string
		end  func(t *testing.T, a *sock.Association, srv *peer)
		// what usrsctp prints and the reason we report
		theirs string
		ours   sock.DownReason
	}{
		{"our shutdown", func(t *testing.T, a *sock.Association, srv *peer) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, a.Shutdown(ctx))
			srv.expect(`^SHUTDOWN `, 5*time.Second, `^ABORT`)
		}, `^DOWN `, sock.ReasonShutdown},
		{"their shutdown", func(t *testing.T, a *sock.Association, srv *peer) {
			srv.command("shutdown")
		}, `^DOWN `, sock.ReasonShutdown},
		{"our abort", func(t *testing.T, a *sock.Association, srv *peer) {
			a.Abort("interop test")
		}, `^ABORT `, sock.ReasonAborted},
		{"their abort", func(t *testing.T, a *sock.Association, srv *peer) {
			srv.command("abort")
		}, `^ABORT `, sock.ReasonAbortedByPeer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			srv, udp, port := startServer(t, bin, "echo", s.UDPPort())
			ep, a := connectTo(t, s, udp, port)
			srv.expect(`^UP `, 5*time.Second)
			exchange(t, a, ep, messages(3, 4, []int{10, 2000}, 2))
			c.end(t, a, srv)
			fail := `^ABORT `
			if c.theirs == `^ABORT ` {
				fail = `^DOWN `
			}
			srv.expect(c.theirs, 10*time.Second, fail)
			down := waitEvent(t, ep, sock.EventDown, 10*time.Second)
			require.Same(t, a, down.Association)
			require.Equal(t, c.ours, down.Reason)
			require.Equal(t, c.ours, a.Reason())
		})
	}
}

// TestMultiHomedUsrsctp: usrsctp bound to 127.0.0.1 and 127.0.0.2 lists
// both in its INIT-ACK (or INIT): our association has a path to each.
// Set INTEROP_MULTIHOME_CONFIRM (1, or the time to allow, e.g. 40s) to
// also require that heartbeats confirm both (RFC 9260 section 5.4).
func TestMultiHomedUsrsctp(t *testing.T) {
	bin := buildPeer(t)
	addLoopbackAddr(t, "127.0.0.2") // before usrsctp starts: it reads the addresses at init
	lo2 := netip.MustParseAddr("127.0.0.2")
	both := []netip.Addr{lo1, lo2}

	checkPaths := func(t *testing.T, a *sock.Association, wantUDP uint16) {
		t.Helper()
		paths := a.Paths()
		t.Logf("paths: %+v", paths)
		var remotes []netip.Addr
		primaries := 0
		for _, p := range paths {
			remotes = append(remotes, p.Remote)
			if p.Primary {
				primaries++
				require.Equal(t, sock.PathActive, p.State, "the primary path carries data")
			}
		}
		slices.SortFunc(remotes, netip.Addr.Compare)
		require.Equal(t, both, remotes)
		require.Equal(t, 1, primaries)
		if wait, ok := envDuration("INTEROP_MULTIHOME_CONFIRM", 40*time.Second); ok {
			require.Eventually(t, func() bool {
				for _, p := range a.Paths() {
					if p.State != sock.PathActive {
						return false
					}
				}
				return true
			}, wait, 100*time.Millisecond, "both paths confirmed by heartbeat: %+v", a.Paths())
			for _, p := range a.Paths() {
				require.Equal(t, wantUDP, p.RemoteUDPPort, "path %v", p.Remote)
			}
		}
	}

	t.Run("we connect", func(t *testing.T) {
		s := newStack(t)
		srv, udp, port := startServer(t, bin, "echo", s.UDPPort(), "-bind", "127.0.0.1", "-bind", "127.0.0.2")
		ep, a := connectTo(t, s, udp, port)
		srv.expect(`^UP `, 5*time.Second)
		exchange(t, a, ep, messages(5, 8, []int{1, 1232, 5000}, 3))
		checkPaths(t, a, udp)
		exchange(t, a, ep, messages(6, 8, []int{1, 1232, 5000}, 3))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, a.Shutdown(ctx))
		srv.expect(`^DOWN `, 10*time.Second, `^ABORT`)
	})

	t.Run("we connect to both", func(t *testing.T) {
		s := newStack(t)
		srv, udp, port := startServer(t, bin, "echo", s.UDPPort(), "-bind", "127.0.0.1", "-bind", "127.0.0.2")
		ep, a := connectTo(t, s, udp, port, lo2, lo1)
		srv.expect(`^UP `, 5*time.Second)
		exchange(t, a, ep, messages(7, 8, []int{1, 1232, 5000}, 3))
		checkPaths(t, a, udp)
	})

	t.Run("usrsctp connects", func(t *testing.T) {
		s := newStack(t)
		ep := newEndpoint(t, s, both, sock.AcceptMax(4)) // a two-address endpoint of ours
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go echo(ctx, t, ep)
		cudp := freeUDPPort(t)
		cl := startPeer(t, bin, "usrsctp client", "-mode", "client", "-udp", fmt.Sprint(cudp),
			"-rudp", fmt.Sprint(s.UDPPort()), "-bind", "127.0.0.1", "-bind", "127.0.0.2",
			"-connect", "127.0.0.1", "-rport", fmt.Sprint(ep.Port()), "-n", "12", "-streams", "3",
			"-sizes", "1,1232,5000")
		up := waitEvent(t, ep, sock.EventUp, 10*time.Second)
		checkPaths(t, up.Association, cudp)
		cl.expect(`^VERIFIED n=12$`, 30*time.Second, `^FAIL`, `^ABORT`)
		require.NoError(t, cl.wait(10*time.Second))
		down := waitEvent(t, ep, sock.EventDown, 10*time.Second)
		require.Equal(t, sock.ReasonShutdown, down.Reason)
	})
}
