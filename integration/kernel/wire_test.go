//go:build kernel

package kernel

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkWire captures every UDP datagram of the encapsulation port on the
// taps while the test runs and, when it ends, decodes them as SCTP: each
// must be SCTP with a correct CRC32c, neither malformed nor with an expert
// error (RFC 6951 section 5.2 puts one SCTP packet in each datagram). The
// capture stays in the test's temporary directory; a case may read fields
// of it (capture.rows) before the end.
func checkWire(t *testing.T) *capture {
	t.Helper()
	file := filepath.Join(t.TempDir(), "kernel.pcapng")
	// The filter first: it applies to the interfaces named after it.
	cmd := exec.Command("tshark", "-f", fmt.Sprintf("udp port %d", kernelUDPPort), "-i", "tap0", "-i", "tap1", "-w", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("tshark: %v (run.sh installs it)", err)
	}
	capturing := make(chan struct{})
	done := make(chan error, 1)
	var msgs []string
	go func() {
		sc := bufio.NewScanner(stderr)
		n := 0
		for sc.Scan() {
			msgs = append(msgs, sc.Text())
			// One "Capturing on" line names every interface.
			if strings.Contains(sc.Text(), "Capturing on") && n == 0 {
				n++
				close(capturing)
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case <-capturing:
	case err := <-done:
		t.Fatalf("tshark cannot capture on the taps: %v\n%s", err, strings.Join(msgs, "\n"))
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("tshark did not start capturing: %s", strings.Join(msgs, "\n"))
	}
	// The filter is attached before "Capturing on" is printed; a little
	// more time costs nothing.
	time.Sleep(300 * time.Millisecond)
	c := &capture{file: file, cmd: cmd, done: done}
	t.Cleanup(func() {
		if !c.stop(t) {
			return
		}
		frames, bad := decodeCapture(t, file)
		if frames == 0 {
			t.Errorf("wire: nothing captured")
		}
		for _, b := range bad {
			t.Errorf("wire: %s", b)
		}
		if len(bad) > 0 || t.Failed() {
			keep := filepath.Join(os.Getenv("USOCK_GUEST_DIR"), strings.ReplaceAll(t.Name(), "/", "_")+".pcapng")
			if b, err := os.ReadFile(file); err == nil && os.WriteFile(keep, b, 0o644) == nil {
				t.Logf("wire: the capture is kept in %s", keep)
			}
		}
		t.Logf("wire: %d datagrams, all SCTP with a correct CRC32c, none malformed", frames-len(bad))
	})
	return c
}

// capture is a running tshark capture of the taps.
type capture struct {
	file    string
	cmd     *exec.Cmd
	done    chan error
	stopped bool
	ok      bool
}

// stop ends the capture, once; it reports whether tshark stopped cleanly.
func (c *capture) stop(t *testing.T) bool {
	t.Helper()
	if c.stopped {
		return c.ok
	}
	c.stopped = true
	time.Sleep(300 * time.Millisecond) // the last datagrams reach the capture
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
		c.ok = true
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Errorf("tshark did not stop")
	}
	return c.ok
}

// rows stops the capture and returns the fields of each SCTP datagram
// (readFields).
func (c *capture) rows(t *testing.T, fields ...string) [][]string {
	t.Helper()
	if !c.stop(t) {
		t.FailNow()
	}
	return readFields(t, c.file, fields...)
}

// decodeCapture decodes file's datagrams as SCTP on the encapsulation port
// and returns how many there are and a line for each that is not clean.
func decodeCapture(t *testing.T, file string) (frames int, bad []string) {
	t.Helper()
	for _, f := range readFields(t, file, "frame.number", "sctp.chunk_type", "sctp.checksum.status",
		"_ws.malformed", "_ws.expert.severity", "_ws.expert.message") {
		frames++
		switch {
		case f[1] == "":
			bad = append(bad, fmt.Sprintf("frame %s does not decode as SCTP", f[0]))
		case f[2] != "1":
			bad = append(bad, fmt.Sprintf("frame %s: checksum status %q (1 = good)", f[0], f[2]))
		case f[3] != "":
			bad = append(bad, fmt.Sprintf("frame %s: malformed", f[0]))
		case hasErrorSeverity(f[4]):
			bad = append(bad, fmt.Sprintf("frame %s: expert error %q", f[0], f[5]))
		}
	}
	return frames, bad
}

// readFields decodes file's datagrams on the encapsulation port as SCTP
// and returns the fields of each, one entry per name ("|" between the
// occurrences of a field; "" where a datagram has none).
func readFields(t *testing.T, file string, names ...string) [][]string {
	t.Helper()
	args := []string{"-r", file, "-d", fmt.Sprintf("udp.port==%d,sctp", kernelUDPPort), "-o", "sctp.checksum:CRC 32c",
		"-Y", fmt.Sprintf("udp.port==%d", kernelUDPPort), "-T", "fields",
		"-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"}
	// The cases' payloads are test bytes under telecom PPIDs (40 to 46:
	// M2AP, M3AP, ...): the dissectors of SCTP's payloads would call them
	// malformed. SCTP itself is what is checked.
	for _, p := range sctpPayloadDissectors(t) {
		args = append(args, "--disable-protocol", p)
	}
	for _, n := range names {
		args = append(args, "-e", n)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		f := strings.Split(l, "\t")
		for len(f) < len(names) {
			f = append(f, "")
		}
		rows = append(rows, f)
	}
	return rows
}

// sctpPayloadDissectors returns the protocols tshark hands SCTP payloads
// to (by PPID, port or heuristic).
func sctpPayloadDissectors(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, g := range []string{"decodes", "heuristic-decodes"} {
		b, err := exec.Command("tshark", "-G", g).Output()
		if err != nil {
			t.Fatalf("tshark -G %s: %v", g, err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, "\t")
			var proto string
			switch {
			case g == "decodes" && len(f) >= 3 && (f[0] == "sctp.ppi" || f[0] == "sctp.port"):
				proto = f[2]
			case g == "heuristic-decodes" && len(f) >= 2 && f[0] == "sctp":
				proto = f[1]
			}
			if proto != "" && !seen[proto] {
				seen[proto] = true
				out = append(out, proto)
			}
		}
	}
	return out
}

// hasErrorSeverity reports whether one of the expert severities (tshark's
// numbers, "|"-joined) is an error: 0x00800000 (8388608) and above.
func hasErrorSeverity(s string) bool {
	for _, v := range strings.Split(s, "|") {
		var n int64
		if _, err := fmt.Sscan(v, &n); err == nil && n >= 8388608 {
			return true
		}
	}
	return false
}
