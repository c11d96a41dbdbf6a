package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usock/usock/cmd/usock/internal/admin"
	"github.com/usock/usock/sock"
)

const statUsage = `usage: usock stat [flags]

Show the endpoints, associations and paths of a running "usock listen" or
"usock connect" started with -admin: a table, or the JSON of its GET /stats.
The same address serves Prometheus metrics at /metrics.

examples:
  usock listen -echo -port 5000 -admin 127.0.0.1:8080 &
  usock stat -admin 127.0.0.1:8080
  usock stat -admin 127.0.0.1:8080 -json`

func stat(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("stat", flag.ContinueOnError)
	addr := fs.String("admin", "127.0.0.1:8080", "the admin `address` of the instance (its -admin flag)")
	asJSON := fs.Bool("json", false, "print the JSON as the instance answers it")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parseFlags(fs, args, std.out, statUsage); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := *addr
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	url = strings.TrimSuffix(url, "/") + "/stats"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("stat: %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("stat: %s: %s", url, resp.Status)
	}
	var snap admin.Snapshot
	if err := json.Unmarshal(body, &snap); err != nil {
		return fmt.Errorf("stat: %s: not a usock admin endpoint: %v", url, err)
	}
	if *asJSON {
		_, err := std.out.Write(body)
		return err
	}
	var buf bytes.Buffer
	printSnapshot(&buf, snap)
	_, err = std.out.Write(buf.Bytes())
	return err
}

func printSnapshot(w io.Writer, s admin.Snapshot) {
	fmt.Fprintf(w, "stack: UDP port %d, endpoints %d, out-of-the-blue replies %d, dropped %d\n\n",
		s.UDPPort, len(s.Endpoints), s.Stack.OOTBReplies, s.Stack.OOTBDropped)
	if len(s.Stack.Drops) > 0 {
		fmt.Fprint(w, "drops:")
		for _, r := range sock.DropReasons() {
			if n := s.Stack.Drops[r]; n > 0 {
				fmt.Fprintf(w, " %v %d", r, n)
			}
		}
		fmt.Fprint(w, "\n\n")
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SOCKET\tRX DGRAMS\tRX BYTES\tTX DGRAMS\tTX BYTES\tBAD CSUM\tTOO SHORT\tRX ERR\tTX ERR\t")
	for _, so := range s.Stack.Sockets {
		fmt.Fprintf(tw, "%v\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", so.Local,
			so.RxDatagrams, so.RxBytes, so.TxDatagrams, so.TxBytes, so.RxBadChecksum,
			so.RxTooShort, so.RxErrors, so.TxErrors)
	}
	tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tASSOCIATION\tSTATE\tSTREAMS OUT/IN\tMSGS IN\tMSGS OUT\tDROPPED\tHEARTBEATS IN")
	var paths [][2]string
	for _, ep := range s.Endpoints {
		name := endpointName(ep)
		if len(ep.Associations) == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\t\n", name)
		}
		for _, a := range ep.Associations {
			st := a.Stats
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\t%d\n", name, a.Name, a.State,
				a.StreamsOut, a.StreamsIn, st.MessagesIn, st.MessagesOut,
				st.DroppedForeign+st.DroppedQueue+st.DroppedStream, st.HeartbeatsIn)
			for _, p := range a.Paths {
				primary := ""
				if p.Primary {
					primary = "yes"
				}
				if p.InUse {
					primary += "*"
				}
				srtt := "-"
				if p.SRTT > 0 {
					srtt = fmtDur(p.SRTT)
				}
				paths = append(paths, [2]string{a.Name, fmt.Sprintf("%v\t%v\t%d\t%s\t%s\t%s\t%s\t%d\t%d/%d\t%d\t%d\t%d\t%d",
					p.Remote, p.Local, p.RemoteUDPPort, p.State, primary, srtt, fmtDur(p.RTO), p.ErrorCount,
					p.HeartbeatsAcked, p.HeartbeatsSent, p.PacketsOut, p.BytesOut, p.PacketsIn, p.BytesIn)})
			}
		}
	}
	tw.Flush()
	if len(paths) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ASSOCIATION\tPATH TO\tFROM\tUDP PORT\tSTATE\tPRIMARY\tSRTT\tRTO\tERRORS\tHB ACKED/SENT\tPKTS OUT\tBYTES OUT\tPKTS IN\tBYTES IN")
	for _, p := range paths {
		fmt.Fprintf(tw, "%s\t%s\n", p[0], p[1])
	}
	tw.Flush()
	fmt.Fprintln(w, "(PRIMARY: yes = the primary path, * = the path new data goes to)")
}

func endpointName(ep admin.Endpoint) string {
	parts := make([]string, len(ep.Addrs))
	for i, a := range ep.Addrs {
		parts[i] = netip.AddrPortFrom(a, ep.Port).String()
	}
	return strings.Join(parts, ",")
}
