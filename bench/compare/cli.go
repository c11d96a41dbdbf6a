package main

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/usock/usock/bench/internal/harness"
)

// The "usock-cli" rows run the command-line tool as a user would:
// "usock bench" against "usock listen -q" (throughput) or "usock listen
// -echo -q" (rtt), two processes. The command has no warm-up and counts
// the messages the association took; the listener's CPU time is that of
// its whole life (from its process state), setup and shutdown included.

// findCLI builds cmd/usock into a temporary directory and returns the
// program, or "" and a note why not.
func findCLI() (string, string) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	root := ""
	for _, dir := range []string{".", "..", "../.."} {
		if _, err := os.Stat(filepath.Join(dir, "cmd", "usock", "main.go")); err == nil {
			root = dir
			break
		}
	}
	if root == "" {
		return "", "skipped: cmd/usock not found (run from the module root)"
	}
	dir, err := os.MkdirTemp("", "usock-cli")
	if err != nil {
		return "", "skipped: " + err.Error()
	}
	bin := filepath.Join(dir, "usock")
	cmd := exec.Command(gobin, "build", "-o", bin, "./cmd/usock")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "skipped: building cmd/usock: " + strings.TrimSpace(string(out))
	}
	return bin, "cmd/usock"
}

var (
	listeningRE = regexp.MustCompile(`^listening on .* \(UDP port (\d+)\)`)
	cliTputRE   = regexp.MustCompile(`^throughput: (\d+) messages of \d+ bytes in ([0-9.]+)s: `)
	cliRTTRE    = regexp.MustCompile(`^rtt: (\d+) round trips of \d+ bytes in ([0-9.]+)s: .* RTT median ([0-9.]+)ms p99 ([0-9.]+)ms p99\.9 ([0-9.]+)ms`)
	cliCPURE    = regexp.MustCompile(`, CPU ([0-9.]+)s \(`)
)

// pairCLI runs one measurement of the command-line tool: test "tput"
// (size-byte messages to a discarding listener) or "rtt" (an echoing
// one).
func pairCLI(o *options, test string, size int) (harness.Sample, error) {
	largs := []string{"listen", "-q", "-addr", "127.0.0.1", "-port", "5000", "-udp-port", "0"}
	mode := "throughput"
	if test == "rtt" {
		largs, mode = append(largs, "-echo"), "rtt"
	}
	lis := exec.Command(o.cli, largs...)
	lerr, err := lis.StderrPipe()
	if err != nil {
		return harness.Sample{}, err
	}
	if err := lis.Start(); err != nil {
		return harness.Sample{}, err
	}
	exited := false
	defer func() {
		if !exited {
			_ = lis.Process.Kill()
			_ = lis.Wait()
		}
	}()
	udp := make(chan string, 1)
	go func() { // the port line, then the rest drained until the listener ends
		sc := bufio.NewScanner(lerr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				udp <- m[1]
			}
		}
	}()
	var port string
	select {
	case port = <-udp:
	case <-time.After(30 * time.Second):
		return harness.Sample{}, errors.New("usock listen: no port within 30s")
	}
	bench := exec.Command(o.cli, "bench", "-port", "5000", "-remote-udp-port", port, "-mode", mode,
		"-size", strconv.Itoa(size), "-duration", o.duration.String(), "-interval", "0")
	out, err := bench.Output()
	if err != nil {
		return harness.Sample{}, fmt.Errorf("usock bench: %w: %s", err, strings.TrimSpace(string(out)))
	}
	_ = lis.Process.Signal(os.Interrupt)
	werr := lis.Wait()
	exited = true
	if werr != nil {
		return harness.Sample{}, fmt.Errorf("usock listen: %w", werr)
	}
	smp, err := parseCLI(string(out), size)
	if err != nil {
		return smp, err
	}
	smp.ServerCPU = int64(lis.ProcessState.UserTime() + lis.ProcessState.SystemTime())
	return smp, nil
}

// parseCLI reads the summary line of usock bench into a Sample (size is
// the message size of a throughput run).
func parseCLI(out string, size int) (harness.Sample, error) {
	line := strings.TrimSpace(out)
	var s harness.Sample
	f := func(v string) float64 { x, _ := strconv.ParseFloat(v, 64); return x }
	ms := func(v string) int64 { return int64(math.Round(f(v) * 1e6)) }
	if m := cliTputRE.FindStringSubmatch(line); m != nil {
		s.Msgs, _ = strconv.ParseInt(m[1], 10, 64)
		s.Seconds = f(m[2])
		s.Bytes = s.Msgs * int64(size)
	} else if m := cliRTTRE.FindStringSubmatch(line); m != nil {
		s.Msgs, _ = strconv.ParseInt(m[1], 10, 64)
		s.Seconds = f(m[2])
		s.MedianNs, s.P99Ns, s.P999Ns = ms(m[3]), ms(m[4]), ms(m[5])
	} else {
		return s, fmt.Errorf("usock bench: no summary in %q", line)
	}
	if s.Msgs == 0 || s.Seconds <= 0 {
		return s, fmt.Errorf("usock bench: nothing measured: %q", line)
	}
	if m := cliCPURE.FindStringSubmatch(line); m != nil {
		s.CPUNs = int64(math.Round(f(m[1]) * 1e9))
	}
	return s, nil
}
