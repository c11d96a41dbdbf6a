// Command compare runs this stack side by side with pion/sctp alone (over a
// plain connected UDP socket), usrsctp (when libusrsctp is installed) and
// the kernel (TCP, UDP ping-pong) on loopback, and prints a table with
// medians over several rounds and ratios to pion and usrsctp.
//
//	go run ./bench/compare                  # the full run (about 7 minutes on 2 cores)
//	go run ./bench/compare -quick           # a few seconds, for CI
//	go run ./bench/compare -out result.json -duration 5s -rounds 5
//
// Every measurement alternates between the systems (round-robin per
// metric, -rounds rounds), so machine noise hits them alike. Client and
// server are separate processes (this binary re-executed as a worker, or
// the usrsctp-bench C program) except for the "usock-1p" rows (both ends
// in one process) and pion's idle-association figures.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usock/usock/bench/internal/harness"
	"github.com/usock/usock/internal/usrsctpbuild"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(worker(os.Args[2:]))
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type options struct {
	duration, warmup time.Duration
	rounds           int
	quick            bool
	packetSizes      []int
	extraSizes       []int
	idle             []int
	pionIdle         int
	out              string
	usrsctp          string // the C program, "" if not available
	usrsctpNote      string
	cli              string // the built cmd/usock, "" if not available
	cliNote          string
	failover         []string
}

// Entry is one system's figure for one metric.
type Entry struct {
	Median  float64            `json:"median"`
	Rounds  []float64          `json:"rounds,omitempty"`
	Extra   map[string]float64 `json:"extra,omitempty"` // medians of cpu_s_per_gb, p99_us, goroutines_per_assoc, ...
	Skipped string             `json:"skipped,omitempty"`
	Error   string             `json:"error,omitempty"`

	extras map[string][]float64
}

// Metric is one row group of the table.
type Metric struct {
	Title   string            `json:"title"`
	Unit    string            `json:"unit"`
	Better  string            `json:"better"` // higher or lower
	Systems map[string]*Entry `json:"systems"`
	order   []string
}

// Report is the JSON output.
type Report struct {
	Started  time.Time          `json:"started"`
	Seconds  float64            `json:"seconds"`
	Command  string             `json:"command"`
	Machine  map[string]string  `json:"machine"`
	Config   map[string]any     `json:"config"`
	Metrics  map[string]*Metric `json:"metrics"`
	Order    []string           `json:"order"`
	Problems []string           `json:"problems,omitempty"`
}

// job is one measurement of one system for one metric.
type job struct {
	metric, sys string
	run         func(o *options) (harness.Sample, error)
	value       func(harness.Sample) (float64, map[string]float64)
}

func run(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	duration := fs.Duration("duration", 3*time.Second, "length of each measurement")
	rounds := fs.Int("rounds", 3, "rounds; each round runs every measurement once, systems alternating")
	quick := fs.Bool("quick", false, "a short run for CI (100 ms measurements, one round, small idle counts)")
	psList := fs.String("packet-size", "1232", "SCTP packet sizes to compare, comma-separated (this stack also shows 1452 and 8000)")
	out := fs.String("out", "", "write the results as JSON to this `file`")
	only := fs.String("only", "", "run only the metrics whose key contains one of these comma-separated `words` (throughput_1KiB, rate_64B, rtt_64B, handshakes, idle, failover, ...)")
	systems := fs.String("sys", "", "run only these comma-separated `systems` (the table's names: usock, usock-nobatch, pion, ...)")
	ubin := fs.String("usrsctp-bench", "", "a built usrsctp-bench program (default: build bench/usrsctp-bench/bench.c with cc)")
	profile := fs.String("profile", "", "write a CPU profile of each Go worker (client and server), and a heap profile of the idle metric's server, into this `directory`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: compare [flags]\n\nThis stack against pion/sctp alone, usrsctp and the kernel, on loopback.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	o := &options{duration: *duration, rounds: *rounds, quick: *quick, out: *out,
		idle: []int{1000, 10000}, pionIdle: 1000, failover: []string{"tuned", "defaults"}}
	o.warmup = min(300*time.Millisecond, o.duration/5)
	if o.quick {
		o.duration, o.warmup, o.rounds = 100*time.Millisecond, 30*time.Millisecond, 1
		o.idle, o.pionIdle, o.failover = []int{50, 200}, 50, []string{"tuned"}
		if fs.Lookup("duration").Value.String() != (3 * time.Second).String() {
			o.duration = *duration
		}
	}
	if o.rounds < 1 || o.duration <= 0 {
		return errors.New("need -rounds >= 1 and a positive -duration")
	}
	for _, f := range strings.Split(*psList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 512 || n > 8000 {
			return fmt.Errorf("-packet-size %q: sizes from 512 to 8000", f)
		}
		o.packetSizes = append(o.packetSizes, n)
	}
	for _, n := range []int{1452, 8000} {
		if !slices.Contains(o.packetSizes, n) {
			o.extraSizes = append(o.extraSizes, n)
		}
	}
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return fmt.Errorf("-profile: %w", err)
		}
		dir, err := filepath.Abs(*profile)
		if err != nil {
			return fmt.Errorf("-profile: %w", err)
		}
		// The workers inherit the environment.
		if err := os.Setenv(profileEnv, dir); err != nil {
			return fmt.Errorf("-profile: %w", err)
		}
	}
	o.usrsctp, o.usrsctpNote = findUsrsctp(*ubin)
	o.cli, o.cliNote = findCLI()
	// The programs built for this run go with it.
	if o.cli != "" {
		defer os.RemoveAll(filepath.Dir(o.cli))
	}
	if *ubin == "" && o.usrsctp != "" {
		defer os.RemoveAll(filepath.Dir(o.usrsctp))
	}

	rep := &Report{Started: time.Now(), Command: strings.Join(os.Args, " "), Metrics: map[string]*Metric{},
		Machine: machine(),
		Config: map[string]any{"duration": o.duration.String(), "warmup": o.warmup.String(), "rounds": o.rounds,
			"quick": o.quick, "packet_sizes": o.packetSizes, "extra_packet_sizes_usock": o.extraSizes,
			"idle_assocs": o.idle, "usrsctp": o.usrsctpNote, "cli": o.cliNote}}
	jobs := plan(o, rep)
	if *only != "" {
		words := strings.Split(*only, ",")
		keep := func(key string) bool {
			return slices.ContainsFunc(words, func(w string) bool { return w != "" && strings.Contains(key, w) })
		}
		jobs = slices.DeleteFunc(jobs, func(j job) bool { return !keep(j.metric) })
		rep.Order = slices.DeleteFunc(rep.Order, func(k string) bool {
			if !keep(k) {
				delete(rep.Metrics, k)
				return true
			}
			return false
		})
	}
	if *systems != "" {
		names := strings.Split(*systems, ",")
		jobs = slices.DeleteFunc(jobs, func(j job) bool { return !slices.Contains(names, j.sys) })
		for _, m := range rep.Metrics {
			m.order = slices.DeleteFunc(m.order, func(sys string) bool {
				if !slices.Contains(names, sys) {
					delete(m.Systems, sys)
					return true
				}
				return false
			})
		}
	}

	total := len(jobs) * o.rounds
	done := 0
	t0 := time.Now()
	for r := 1; r <= o.rounds; r++ {
		for _, j := range jobs {
			if j.run == nil {
				continue
			}
			e := rep.Metrics[j.metric].Systems[j.sys]
			eta := ""
			if done > 0 {
				eta = fmt.Sprintf(", about %v left", (time.Since(t0) / time.Duration(done) * time.Duration(total-done)).Round(time.Second))
			}
			progress(fmt.Sprintf("round %d/%d  %-18s %-14s [%d/%d, %v%s]", r, o.rounds, j.metric, j.sys, done+1, total,
				time.Since(t0).Round(time.Second), eta))
			s, err := j.run(o)
			done++
			if err != nil {
				msg := fmt.Sprintf("%s %s round %d: %v", j.metric, j.sys, r, err)
				rep.Problems = append(rep.Problems, msg)
				if e.Error == "" {
					e.Error = err.Error()
				}
				continue
			}
			v, ex := j.value(s)
			e.Rounds = append(e.Rounds, v)
			for k, x := range ex {
				if e.extras == nil {
					e.extras = map[string][]float64{}
				}
				e.extras[k] = append(e.extras[k], x)
			}
		}
	}
	progress("")
	for _, m := range rep.Metrics {
		for _, e := range m.Systems {
			if len(e.Rounds) > 0 {
				e.Median = median(e.Rounds)
				e.Error = ""
			}
			for k, xs := range e.extras {
				if e.Extra == nil {
					e.Extra = map[string]float64{}
				}
				e.Extra[k] = median(xs)
			}
		}
	}
	rep.Seconds = time.Since(t0).Seconds()
	printTable(os.Stdout, rep)
	if o.out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", o.out)
	}
	return nil
}

var progressWidth int

// progress rewrites the progress line on stderr ("" clears it).
func progress(s string) {
	pad := ""
	if n := progressWidth - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(os.Stderr, "\r%s%s\r", s, pad)
	if s == "" {
		progressWidth = 0
		return
	}
	progressWidth = len(s)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func machine() map[string]string {
	m := map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "go": runtime.Version(),
		"cpus": strconv.Itoa(runtime.NumCPU())}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					m["cpu"] = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	if h, err := os.Hostname(); err == nil {
		m["host"] = h
	}
	return m
}

// findUsrsctp returns the usrsctp-bench program (built with cc from
// bench/usrsctp-bench/bench.c next to this source) or a note why not.
func findUsrsctp(given string) (string, string) {
	if given != "" {
		return given, "usrsctp-bench " + given
	}
	src := ""
	for _, dir := range []string{".", "..", "../.."} {
		for _, rel := range []string{"bench/usrsctp-bench/bench.c", "usrsctp-bench/bench.c"} {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				src = p
				break
			}
		}
		if src != "" {
			break
		}
	}
	if src == "" {
		return "", "skipped: bench/usrsctp-bench/bench.c not found (run from the module root)"
	}
	dir, err := os.MkdirTemp("", "usrsctp-bench")
	if err != nil {
		return "", "skipped: " + err.Error()
	}
	bin := filepath.Join(dir, "usrsctp-bench")
	if err := usrsctpbuild.Build(src, bin, "-O2"); err != nil {
		switch {
		case errors.Is(err, usrsctpbuild.ErrNoCompiler):
			return "", "skipped: no C compiler (cc)"
		case errors.Is(err, usrsctpbuild.ErrNoLibrary):
			return "", "skipped: libusrsctp is not installed (apt-get install libusrsctp-dev)"
		}
		return "", "skipped: " + err.Error()
	}
	v := "usrsctp (libusrsctp)"
	if b, err := exec.Command("sh", "-c", "dpkg-query -W -f '${Version}' libusrsctp2 2>/dev/null || dpkg-query -W -f '${Version}' libusrsctp-dev").Output(); err == nil && len(b) > 0 {
		v += " " + string(b)
	}
	return bin, v
}

// freeUDPPort returns a UDP port free on the IPv4 and IPv6 wildcard
// addresses (usrsctp binds both).
func freeUDPPort() (uint16, error) {
	for range 100 {
		c4, err := net.ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			return 0, err
		}
		p := c4.LocalAddr().(*net.UDPAddr).Port
		c6, err6 := net.ListenUDP("udp6", &net.UDPAddr{Port: p})
		_ = c4.Close()
		if err6 == nil {
			_ = c6.Close()
			return uint16(p), nil
		}
		if !strings.Contains(err6.Error(), "address already in use") {
			return uint16(p), nil
		}
	}
	return 0, errors.New("no free UDP port")
}

// proc is a running worker with its output lines.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	errb  strings.Builder
}

func start(name string, args ...string) (*proc, error) {
	p := &proc{cmd: exec.Command(name, args...), lines: make(chan string, 64)}
	p.cmd.Stderr = &p.errb
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p, nil
}

func startWorker(s spec) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(s)
	return start(self, "worker", string(b))
}

// expect waits for a line starting with prefix and returns the rest.
func (p *proc) expect(prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("worker ended before %s: %s", prefix, strings.TrimSpace(p.errb.String()))
			}
			if rest, ok := strings.CutPrefix(l, prefix+" "); ok {
				return rest, nil
			}
			if rest, ok := strings.CutPrefix(l, "ERROR "); ok {
				return "", errors.New(rest)
			}
		case <-t.C:
			return "", fmt.Errorf("no %s within %v", prefix, timeout)
		}
	}
}

// stop ends the process: end of input first, then a kill.
func (p *proc) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (p *proc) ask(cmd, prefix string) (string, error) {
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		return "", err
	}
	return p.expect(prefix, 30*time.Second)
}

// pair runs a measurement: a server worker (Go, or usrsctp-bench for the
// sys "usrsctp"), then a client, and adds the server's CPU time between
// the client's flushes to the sample.
func pair(o *options, sys, mode, test string, size, ps, par int) (harness.Sample, error) {
	limit := o.duration + o.warmup + 60*time.Second
	if sys == "usrsctp" {
		return pairUsrsctp(o, mode, test, size, ps, par, limit)
	}
	s := spec{Sys: sys, Mode: mode, Test: test, Size: size, PS: ps, Par: par,
		Dur: int64(o.duration), Warmup: int64(o.warmup), Role: "client"}
	if sys == "usock1p" {
		return oneWorker(s, limit)
	}
	if sys == "pion" && test != "hs" {
		p, err := freeUDPPort()
		if err != nil {
			return harness.Sample{}, err
		}
		s.Peer = p
	}
	srvSpec := s
	srvSpec.Role = "server"
	srv, err := startWorker(srvSpec)
	if err != nil {
		return harness.Sample{}, err
	}
	defer srv.stop()
	line, err := srv.expect("READY", 30*time.Second)
	if err != nil {
		return harness.Sample{}, fmt.Errorf("server: %w", err)
	}
	var r ready
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return harness.Sample{}, err
	}
	s.UDP, s.Port = r.UDP, r.Port
	smp, err := oneWorker(s, limit)
	if err != nil {
		return smp, err
	}
	return addServerCPU(srv, smp)
}

func addServerCPU(srv *proc, smp harness.Sample) (harness.Sample, error) {
	line, err := srv.ask("rusage", "RUSAGE")
	if err != nil {
		return smp, fmt.Errorf("server rusage: %w", err)
	}
	f := strings.Fields(line)
	if len(f) > 0 {
		smp.ServerCPU, _ = strconv.ParseInt(f[0], 10, 64)
	}
	return smp, nil
}

func oneWorker(s spec, limit time.Duration) (harness.Sample, error) {
	c, err := startWorker(s)
	if err != nil {
		return harness.Sample{}, err
	}
	defer c.stop()
	return result(c, limit)
}

func result(c *proc, limit time.Duration) (harness.Sample, error) {
	line, err := c.expect("RESULT", limit)
	if err != nil {
		return harness.Sample{}, err
	}
	var smp harness.Sample
	err = json.Unmarshal([]byte(line), &smp)
	return smp, err
}

func pairUsrsctp(o *options, mode, test string, size, ps, par int, limit time.Duration) (harness.Sample, error) {
	su, err := freeUDPPort()
	if err != nil {
		return harness.Sample{}, err
	}
	cu, err := freeUDPPort()
	for err == nil && cu == su {
		cu, err = freeUDPPort()
	}
	if err != nil {
		return harness.Sample{}, err
	}
	const port = 5001
	srv, err := start(o.usrsctp, "server", "-udp", itoa(su), "-rudp", itoa(cu), "-port", itoa(port), "-mode", mode, "-ps", itoa(ps))
	if err != nil {
		return harness.Sample{}, err
	}
	defer srv.stop()
	if _, err := srv.expect("READY", 30*time.Second); err != nil {
		return harness.Sample{}, fmt.Errorf("usrsctp server: %w", err)
	}
	cl, err := start(o.usrsctp, "client", "-udp", itoa(cu), "-rudp", itoa(su), "-rport", itoa(port), "-ps", itoa(ps),
		"-test", test, "-size", itoa(max(size, 8)), "-ms", itoa(int(o.duration.Milliseconds())),
		"-warmup-ms", itoa(int(o.warmup.Milliseconds())), "-par", itoa(max(par, 1)))
	if err != nil {
		return harness.Sample{}, err
	}
	defer cl.stop()
	smp, err := result(cl, limit)
	if err != nil {
		return smp, fmt.Errorf("usrsctp client: %w", err)
	}
	return addServerCPU(srv, smp)
}

func itoa(n any) string { return fmt.Sprint(n) }

// idleUsock measures memory and goroutines per idle association on the
// accepting endpoint (a server worker), n associations from a client
// worker, each having exchanged a message.
func idleUsock(n int) (harness.Sample, error) {
	srv, err := startWorker(spec{Role: "memserver", Sys: "usock", Mode: harness.ModeEcho, PS: 1232, N: n})
	if err != nil {
		return harness.Sample{}, err
	}
	defer srv.stop()
	line, err := srv.expect("READY", 30*time.Second)
	if err != nil {
		return harness.Sample{}, err
	}
	var r ready
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return harness.Sample{}, err
	}
	var before, after memStat
	if line, err = srv.ask("mem", "MEM"); err != nil {
		return harness.Sample{}, err
	}
	_ = json.Unmarshal([]byte(line), &before)
	cl, err := startWorker(spec{Role: "memclient", Sys: "usock", N: n, UDP: r.UDP, Port: r.Port})
	if err != nil {
		return harness.Sample{}, err
	}
	defer cl.stop()
	smp, err := result(cl, 5*time.Minute)
	if err != nil {
		return smp, err
	}
	time.Sleep(200 * time.Millisecond) // the last SACKs
	if line, err = srv.ask("mem", "MEM"); err != nil {
		return smp, err
	}
	_ = json.Unmarshal([]byte(line), &after)
	smp.BytesPerAssoc = (float64(after.Bytes) - float64(before.Bytes)) / float64(n)
	smp.StackPerAssoc = (float64(after.Stack) - float64(before.Stack)) / float64(n)
	smp.GoroutinesPerAsc = float64(after.Goroutines-before.Goroutines) / float64(n)
	return smp, nil
}

// plan lays out the metrics, the systems and the jobs, in the order they
// run within a round: metric by metric, the systems of a metric one after
// the other.
func plan(o *options, rep *Report) []job {
	var jobs []job
	addMetric := func(key, title, unit, better string) *Metric {
		m := &Metric{Title: title, Unit: unit, Better: better, Systems: map[string]*Entry{}}
		rep.Metrics[key] = m
		rep.Order = append(rep.Order, key)
		return m
	}
	add := func(m *Metric, key, sys string, j job) {
		e := &Entry{}
		m.Systems[sys] = e
		m.order = append(m.order, sys)
		if j.run == nil {
			e.Skipped = j.metric
			return
		}
		j.metric, j.sys = key, sys
		jobs = append(jobs, j)
	}
	skip := func(m *Metric, sys, why string) { add(m, "", sys, job{metric: why}) }
	suffix := func(ps int) string {
		if ps == o.packetSizes[0] {
			return ""
		}
		return "@" + strconv.Itoa(ps)
	}
	tputValue := func(s harness.Sample) (float64, map[string]float64) {
		ex := map[string]float64{"msgs_per_s": float64(s.Msgs) / s.Seconds}
		if s.Bytes > 0 {
			ex["cpu_s_per_gb"] = s.CPUSecondsPerGB()
		}
		return float64(s.Bytes) * 8 / s.Seconds / 1e6, ex
	}
	rateValue := func(s harness.Sample) (float64, map[string]float64) {
		v, ex := tputValue(s)
		ex["mbit_s"] = v
		ex["cpu_us_per_msg"] = s.CPUMicrosPerMsg()
		delete(ex, "msgs_per_s")
		return float64(s.Msgs) / s.Seconds, ex
	}
	rttValue := func(s harness.Sample) (float64, map[string]float64) {
		ex := map[string]float64{"p99_us": float64(s.P99Ns) / 1e3}
		if s.P999Ns > 0 {
			ex["p99.9_us"] = float64(s.P999Ns) / 1e3
		}
		if s.Msgs > 0 && s.CPUNs > 0 {
			// The client process only: an echoing server has no flush
			// requests to mark the timed phase with.
			ex["client_cpu_us_per_rt"] = float64(s.CPUNs) / 1e3 / float64(s.Msgs)
		}
		return float64(s.MedianNs) / 1e3, ex
	}
	hsValue := func(s harness.Sample) (float64, map[string]float64) {
		return float64(s.Handshakes) / s.Seconds, nil
	}
	sctpSystems := []string{"usock", "usocknb", "usock1p", "pion", "usrsctp"}
	label := map[string]string{"usock1p": "usock-1p", "usocknb": "usock-nobatch"}
	// addCLI adds the usock-cli row (the command-line tool) to m.
	addCLI := func(m *Metric, key, test string, size int, value func(harness.Sample) (float64, map[string]float64)) {
		if o.cli == "" {
			skip(m, "usock-cli", o.cliNote)
			return
		}
		add(m, key, "usock-cli", job{run: func(o *options) (harness.Sample, error) { return pairCLI(o, test, size) }, value: value})
	}
	name := func(sys string) string {
		if l, ok := label[sys]; ok {
			return l
		}
		return sys
	}
	for _, size := range []int{1024, 16384} {
		key := fmt.Sprintf("throughput_%dKiB", size/1024)
		m := addMetric(key, fmt.Sprintf("bulk throughput, %d KiB messages", size/1024), "Mbit/s", "higher")
		for _, ps := range o.packetSizes {
			for _, sys := range sctpSystems {
				if sys == "usrsctp" && o.usrsctp == "" {
					skip(m, name(sys)+suffix(ps), o.usrsctpNote)
					continue
				}
				add(m, key, name(sys)+suffix(ps), job{run: func(o *options) (harness.Sample, error) {
					return pair(o, sys, harness.ModeSink, "tput", size, ps, 1)
				}, value: tputValue})
			}
		}
		if size == 1024 {
			addCLI(m, key, "tput", size, tputValue)
		}
		for _, ps := range o.extraSizes {
			add(m, key, "usock@"+strconv.Itoa(ps), job{run: func(o *options) (harness.Sample, error) {
				return pair(o, "usock", harness.ModeSink, "tput", size, ps, 1)
			}, value: tputValue})
		}
		add(m, key, "tcp", job{run: func(o *options) (harness.Sample, error) {
			return pair(o, "tcp", harness.ModeSink, "tput", size, 0, 1)
		}, value: tputValue})
	}
	ps0 := o.packetSizes[0]
	{
		m := addMetric("rate_64B", "message rate, 64-byte messages (CPU µs per message, both processes, in extra)", "msgs/s", "higher")
		for _, sys := range sctpSystems {
			if sys == "usrsctp" && o.usrsctp == "" {
				skip(m, sys, o.usrsctpNote)
				continue
			}
			add(m, "rate_64B", name(sys), job{run: func(o *options) (harness.Sample, error) {
				return pair(o, sys, harness.ModeSink, "tput", 64, ps0, 1)
			}, value: rateValue})
		}
		add(m, "rate_64B", "tcp", job{run: func(o *options) (harness.Sample, error) {
			return pair(o, "tcp", harness.ModeSink, "tput", 64, 0, 1)
		}, value: rateValue})
	}
	{
		m := addMetric("rtt_64B", "ping-pong round trip, 64 bytes (p50; p99, p99.9 and the client's CPU per round trip in extra)", "µs", "lower")
		for _, sys := range append(slices.Clone(sctpSystems), "tcp", "udp") {
			if sys == "usrsctp" && o.usrsctp == "" {
				skip(m, sys, o.usrsctpNote)
				continue
			}
			add(m, "rtt_64B", name(sys), job{run: func(o *options) (harness.Sample, error) {
				return pair(o, sys, harness.ModeEcho, "rtt", 64, ps0, 1)
			}, value: rttValue})
			if sys == "usock1p" {
				addCLI(m, "rtt_64B", "rtt", 64, rttValue)
			}
		}
	}
	for _, par := range []int{1, 100} {
		key, title := "handshakes_seq", "handshakes per second, sequential (connect + abort)"
		if par > 1 {
			key, title = fmt.Sprintf("handshakes_par%d", par), fmt.Sprintf("handshakes per second, %d in parallel (connect + abort)", par)
		}
		m := addMetric(key, title, "1/s", "higher")
		for _, sys := range []string{"usock", "pion", "usrsctp"} {
			if sys == "usrsctp" && o.usrsctp == "" {
				skip(m, sys, o.usrsctpNote)
				continue
			}
			add(m, key, sys, job{run: func(o *options) (harness.Sample, error) {
				return pair(o, sys, harness.ModeSink, "hs", 0, ps0, par)
			}, value: hsValue})
		}
	}
	memValue := func(s harness.Sample) (float64, map[string]float64) {
		ex := map[string]float64{"goroutines_per_assoc": s.GoroutinesPerAsc, "stack_kib_per_assoc": s.StackPerAssoc / 1024}
		if s.Handshakes > 0 && s.Seconds > 0 {
			ex["setup_per_s"] = float64(s.Handshakes) / s.Seconds
		}
		return s.BytesPerAssoc / 1024, ex
	}
	for _, n := range o.idle {
		key := fmt.Sprintf("idle_%d", n)
		m := addMetric(key, fmt.Sprintf("idle association, %d on one endpoint (each exchanged a message): memory; goroutines in extra", n), "KiB/assoc", "lower")
		add(m, key, "usock", job{run: func(*options) (harness.Sample, error) { return idleUsock(n) }, value: memValue})
		if n == o.pionIdle {
			add(m, key, "pion", job{run: func(*options) (harness.Sample, error) {
				return oneWorker(spec{Role: "pionmem", Sys: "pion", PS: ps0, N: n}, 5*time.Minute)
			}, value: memValue})
		} else {
			skip(m, "pion", fmt.Sprintf("not measured: %d pion associations need %d sockets in one process", n, 2*n))
		}
	}
	{
		m := addMetric("failover", "failover on loopback, cut to first delivery on the other path", "ms", "lower")
		for _, set := range o.failover {
			add(m, "failover", "usock "+set, job{run: func(*options) (harness.Sample, error) {
				return oneWorker(spec{Role: "failover", Sys: "usock", Setting: set}, 2*time.Minute)
			}, value: func(s harness.Sample) (float64, map[string]float64) { return s.FailoverMs, nil }})
		}
	}
	return jobs
}

// printTable writes the results, one block per metric.
func printTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "usock performance comparison, loopback, %s (%s cpus), %s, %v rounds of %v, %.0f s\n",
		rep.Machine["cpu"], rep.Machine["cpus"], rep.Machine["go"], rep.Config["rounds"], rep.Config["duration"], rep.Seconds)
	for _, key := range rep.Order {
		m := rep.Metrics[key]
		fmt.Fprintf(w, "\n%s [%s, %s is better]\n", m.Title, m.Unit, m.Better)
		fmt.Fprintf(w, "  %-16s %12s %25s %10s %9s %10s  %s\n", "system", "median", "rounds min..max", "cpu s/GB", "vs pion", "vs usrsctp", "more")
		for _, sys := range m.order {
			e := m.Systems[sys]
			if e.Skipped != "" {
				fmt.Fprintf(w, "  %-16s %s\n", sys, e.Skipped)
				continue
			}
			if len(e.Rounds) == 0 {
				fmt.Fprintf(w, "  %-16s error: %s\n", sys, e.Error)
				continue
			}
			lo, hi := slices.Min(e.Rounds), slices.Max(e.Rounds)
			cpu := ""
			if v, ok := e.Extra["cpu_s_per_gb"]; ok {
				cpu = fmt.Sprintf("%.2f", v)
			}
			var more []string
			for _, k := range []string{"p99_us", "p99.9_us", "client_cpu_us_per_rt", "cpu_us_per_msg", "msgs_per_s", "mbit_s", "goroutines_per_assoc", "stack_kib_per_assoc", "setup_per_s"} {
				if v, ok := e.Extra[k]; ok {
					more = append(more, k+" "+num(v))
				}
			}
			fmt.Fprintf(w, "  %-16s %12s %25s %10s %9s %10s  %s\n", sys, num(e.Median), num(lo)+".."+num(hi), cpu,
				ratio(m, sys, e, "pion"), ratio(m, sys, e, "usrsctp"), strings.Join(more, ", "))
		}
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(w, "\nproblems:\n")
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
}

// ratio is e's median over the reference system's (same packet size
// suffix when there is one), "" for the reference itself or when missing.
func ratio(m *Metric, sys string, e *Entry, ref string) string {
	if strings.HasPrefix(sys, ref) {
		return ""
	}
	refKey := ref
	if _, sfx, ok := strings.Cut(sys, "@"); ok {
		if _, ok := m.Systems[ref+"@"+sfx]; ok {
			refKey = ref + "@" + sfx
		}
	}
	r := m.Systems[refKey]
	if r == nil || r.Median == 0 || len(r.Rounds) == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", e.Median/r.Median)
}

func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
