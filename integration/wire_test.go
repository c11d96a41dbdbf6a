//go:build interop

package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/usock/usock/sock"
)

// SCTP chunk types (RFC 9260 section 3.2).
const (
	chunkData             = "0"
	chunkInit             = "1"
	chunkInitAck          = "2"
	chunkSack             = "3"
	chunkHeartbeat        = "4"
	chunkHeartbeatAck     = "5"
	chunkShutdown         = "7"
	chunkShutdownAck      = "8"
	chunkCookieEcho       = "10"
	chunkCookieAck        = "11"
	chunkShutdownComplete = "14"
)

// capture is a tshark capture on lo.
type capture struct {
	cmd   *exec.Cmd
	file  string
	ports []uint16
	done  chan error
}

// startCapture captures the UDP packets of the ports on lo, or skips the
// test when tshark is missing or may not capture.
func startCapture(t *testing.T, ports ...uint16) *capture {
	t.Helper()
	ts, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("wire check: tshark is not installed (apt-get install tshark)")
	}
	var filter []string
	for _, p := range ports {
		filter = append(filter, fmt.Sprintf("udp port %d", p))
	}
	c := &capture{file: filepath.Join(t.TempDir(), "sctp.pcapng"), ports: ports, done: make(chan error, 1)}
	c.cmd = exec.Command(ts, "-i", "lo", "-f", strings.Join(filter, " or "), "-w", c.file)
	stderr, err := c.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	started := make(chan struct{})
	var msgs []string
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			msgs = append(msgs, sc.Text())
			if !once && strings.Contains(sc.Text(), "Capturing on") {
				once = true
				close(started)
			}
		}
		c.done <- c.cmd.Wait()
	}()
	select {
	case <-started:
	case err := <-c.done:
		t.Skipf("wire check: tshark cannot capture on lo (needs root or CAP_NET_RAW): %v\n%s", err, strings.Join(msgs, "\n"))
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatalf("tshark did not start capturing: %s", strings.Join(msgs, "\n"))
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	time.Sleep(300 * time.Millisecond) // the filter is attached before "Capturing on"; be generous
	return c
}

// packet is one decoded frame.
type packet struct {
	frame    string
	chunks   []string
	checksum string
	expert   string
}

// stop ends the capture and decodes it as SCTP over the UDP ports.
func (c *capture) stop(t *testing.T) []packet {
	t.Helper()
	time.Sleep(500 * time.Millisecond) // the last packets reach the capture
	require.NoError(t, c.cmd.Process.Signal(os.Interrupt))
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tshark did not stop")
	}
	args := []string{"-r", c.file}
	for _, p := range c.ports {
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,sctp", p))
	}
	args = append(args, "-o", "sctp.checksum:CRC 32c")
	if testing.Verbose() {
		summary, _ := exec.Command("tshark", args...).Output()
		t.Logf("capture:\n%s", summary)
	}
	args = append(args, "-T", "fields",
		"-e", "frame.number", "-e", "sctp.chunk_type", "-e", "sctp.checksum.status", "-e", "_ws.expert.message",
		"-e", "_ws.malformed.expert", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|")
	out, err := exec.Command("tshark", args...).Output()
	require.NoError(t, err, "tshark -r")
	var pkts []packet
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(l, "\t")
		for len(f) < 5 {
			f = append(f, "")
		}
		p := packet{frame: f[0], checksum: f[2], expert: strings.TrimSpace(f[3] + f[4])}
		if f[1] != "" {
			p.chunks = strings.Split(f[1], "|")
		}
		pkts = append(pkts, p)
	}
	return pkts
}

// checkWire asserts that every packet is SCTP with a correct CRC32c and no
// expert complaint, and that the chunk sequence has the handshake, data,
// acknowledgements and the shutdown exchange in order, and, with
// heartbeats, a HEARTBEAT answered by a HEARTBEAT ACK.
func checkWire(t *testing.T, pkts []packet, heartbeats bool) {
	t.Helper()
	require.NotEmpty(t, pkts, "nothing captured")
	var seq []string
	for _, p := range pkts {
		require.NotEmpty(t, p.chunks, "frame %s does not decode as SCTP", p.frame)
		require.Equal(t, "1", p.checksum, "frame %s: checksum status (1 = good)", p.frame)
		require.Empty(t, p.expert, "frame %s: expert info", p.frame)
		seq = append(seq, p.chunks...)
	}
	t.Logf("chunk types in order: %v", seq)
	inOrder := func(want ...string) {
		t.Helper()
		i := 0
		for _, c := range seq {
			if i < len(want) && c == want[i] {
				i++
			}
		}
		require.Equal(t, len(want), i, "chunk types %v in order in %v", want, seq)
	}
	inOrder(chunkInit, chunkInitAck, chunkCookieEcho, chunkCookieAck)
	inOrder(chunkCookieAck, chunkData, chunkSack)
	inOrder(chunkShutdown, chunkShutdownAck, chunkShutdownComplete)
	if heartbeats {
		inOrder(chunkCookieAck, chunkHeartbeat, chunkHeartbeatAck, chunkShutdown)
	}
	require.Equal(t, chunkInit, seq[0], "the first chunk is the INIT")
	require.Equal(t, chunkShutdownComplete, seq[len(seq)-1], "the last chunk is the SHUTDOWN COMPLETE")
}

var wireSizes = []int{1, 100, 1232, 5000}

// wireMessages are messages with PPIDs no dissector claims: with the usual
// test PPIDs (46 and up) tshark hands the payloads to DTLS, WebRTC and
// others, which then complain about bytes that are not theirs.
func wireMessages(seed int) []testMsg {
	msgs := messages(seed, 8, wireSizes, 4)
	for i := range msgs {
		msgs[i].ppid = 0x7a000000 + uint32(i%3)
	}
	return msgs
}

// wireCapturable makes our stacks send one datagram per system call. A
// capture on the sending host sees a segmented send (UDP_SEGMENT) before
// the kernel cuts it into datagrams, as it sees a TCP segmentation offload
// send before the NIC cuts it: one UDP payload holding several SCTP
// packets, which tshark would decode as one broken packet. The peer
// receives proper datagrams either way; the interop tests above run with
// batching on.
var wireCapturable = sock.WithUDPBatching(false)

// TestWireOurStacks: two of our stacks on different UDP ports; handshake,
// messages on several streams both ways, graceful shutdown.
func TestWireOurStacks(t *testing.T) {
	server, client := newStack(t, wireCapturable), newStack(t, wireCapturable)
	// Short heartbeat intervals, so that an idle moment shows HEARTBEAT and
	// HEARTBEAT ACK on the wire.
	hb := []sock.EndpointOption{sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(100 * time.Millisecond),
		sock.WithHeartbeatInterval(50 * time.Millisecond)}
	listener := newEndpoint(t, server, nil, append(hb, sock.AcceptMax(1))...)
	dialer := newEndpoint(t, client, nil, hb...)
	c := startCapture(t, server.UDPPort(), client.UDPPort())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go echo(ctx, t, listener)
	a, err := dialer.Connect(ctx, []netip.Addr{lo1}, listener.Port(), sock.WithRemoteUDPPort(server.UDPPort()))
	require.NoError(t, err)
	exchange(t, a, dialer, wireMessages(20))
	require.Eventually(t, func() bool { return a.Paths()[0].HeartbeatsAcked > 0 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, a.Shutdown(ctx))
	waitEvent(t, listener, sock.EventDown, 10*time.Second)

	checkWire(t, c.stop(t), true)
}

// TestWireUsrsctp: our stack and a usrsctp echo server.
func TestWireUsrsctp(t *testing.T) {
	bin := buildPeer(t)
	s := newStack(t, wireCapturable)
	ep := newEndpoint(t, s, nil)
	srv, udp, port := startServer(t, bin, "echo", s.UDPPort())
	c := startCapture(t, s.UDPPort(), udp)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := ep.Connect(ctx, []netip.Addr{lo1}, port, sock.WithRemoteUDPPort(udp))
	require.NoError(t, err)
	exchange(t, a, ep, wireMessages(21))
	require.NoError(t, a.Shutdown(ctx))
	srv.expect(`^DOWN `, 10*time.Second, `^ABORT`)

	checkWire(t, c.stop(t), false)
}
