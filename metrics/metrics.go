// Package metrics exposes the counters of usock stacks to Prometheus.
//
// NewCollector returns a prometheus.Collector that reads Stack.Stats(),
// every endpoint's associations (Association.Stats) and their paths at
// each scrape; Handler serves them in the Prometheus text format:
//
//	stack, _ := sock.NewStack()
//	http.Handle("/metrics", metrics.Handler(stack))
//
// Every metric carries the label stack, the stack's UDP encapsulation port
// (several stacks in one process are told apart by it). Socket metrics add
// socket (the local address and UDP port); association metrics add
// endpoint (the endpoint's local addresses and SCTP port) and peer (the
// peer's first address and SCTP port); path metrics add remote (the path's
// peer address). Association and path series exist while the association
// does.
package metrics

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/usock/usock/sock"
)

const namespace = "usock"

var (
	stackLabels     = []string{"stack"}
	stackDropLabels = []string{"stack", "reason"}
	socketLabels    = []string{"stack", "socket"}
	dropLabels      = []string{"stack", "socket", "reason"}
	epLabels        = []string{"stack", "endpoint"}
	assocLabels     = []string{"stack", "endpoint", "peer"}
	aDropLabels     = []string{"stack", "endpoint", "peer", "reason"}
	pathLabels      = []string{"stack", "endpoint", "peer", "remote"}
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

// Metric descriptions; the names are part of the package's contract.
var (
	dStackUDPPort = desc("stack_udp_port", "The stack's UDP encapsulation port (RFC 6951).", stackLabels)
	dEndpoints    = desc("endpoints", "Endpoints of the stack.", stackLabels)
	dOOTBReplies  = desc("ootb_replies_total", "Replies sent to out-of-the-blue packets (RFC 9260 section 8.4).", stackLabels)
	dOOTBDropped  = desc("ootb_dropped_total", "Out-of-the-blue packets left unanswered (RFC 9260 section 8.4).", stackLabels)
	dDrops        = desc("drops_total", "Packets, chunks or messages the stack discarded, by reason (sock.DropReason: malformed, forged_cookie, stale_cookie, refused_init, wrong_tag, foreign, over_window, invalid_stream, oversized_message, queue_full, excess_address, panic, aborted_unread, closed_unread).", stackDropLabels)

	dRxDatagrams = desc("socket_rx_datagrams_total", "UDP datagrams read from the encapsulation socket.", socketLabels)
	dRxBytes     = desc("socket_rx_bytes_total", "UDP payload bytes read from the encapsulation socket.", socketLabels)
	dTxDatagrams = desc("socket_tx_datagrams_total", "UDP datagrams sent on the encapsulation socket.", socketLabels)
	dTxBytes     = desc("socket_tx_bytes_total", "UDP payload bytes sent on the encapsulation socket.", socketLabels)
	dRxDropped   = desc("socket_rx_dropped_total", "Received datagrams dropped by the socket, by reason: too_short (shorter than the SCTP common header), bad_checksum (CRC32c mismatch).", dropLabels)
	dRxErrors    = desc("socket_rx_errors_total", "Failed socket reads.", socketLabels)
	dTxErrors    = desc("socket_tx_errors_total", "Datagrams that could not be sent.", socketLabels)
	dTxSegmented = desc("socket_tx_segmented_sends_total", "Sends that carried several datagrams with UDP segmentation offload (UDP_SEGMENT).", socketLabels)
	dRxCoalesced = desc("socket_rx_coalesced_reads_total", "Reads that returned several datagrams coalesced by the kernel (UDP_GRO).", socketLabels)
	dRxThrough   = desc("socket_rx_read_through_total", "Datagrams read by the engine of the stack's only association itself rather than the socket's read goroutine.", socketLabels)

	dAssociations = desc("associations", "Associations of the endpoint, established or being set up.", epLabels)

	dMsgsIn      = desc("association_messages_in_total", "Messages received on the association.", assocLabels)
	dMsgsOut     = desc("association_messages_out_total", "Messages sent on the association.", assocLabels)
	dAssocDrops  = desc("association_dropped_total", "Packets or messages the association dropped, by reason: foreign (packet from an address or port not in the association), queue (the data engine's input queue was full), stream (message on an invalid stream).", aDropLabels)
	dUnrecog     = desc("association_unrecognized_chunks_total", "Unrecognized chunks received (RFC 9260 section 3.2).", assocLabels)
	dHeartbeats  = desc("association_heartbeats_in_total", "HEARTBEAT chunks received and answered.", assocLabels)
	dRemoteErrs  = desc("association_remote_errors_total", "Error causes of the peer's ERROR chunks (RFC 9260 section 3.3.10), each an EventRemoteError unless as many of the association's as may wait in the event queue were waiting.", assocLabels)
	dSendFailed  = desc("association_send_failed_total", "Messages reported undelivered (EventSendFailed): abandoned by PR-SCTP or unacknowledged when the association went down.", assocLabels)
	dEstablished = desc("association_established", "1 if the association is ESTABLISHED, else 0.", assocLabels)
	dStreamsOut  = desc("association_streams_out", "Negotiated outbound streams.", assocLabels)
	dStreamsIn   = desc("association_streams_in", "Negotiated inbound streams.", assocLabels)

	dPathPktsOut  = desc("path_packets_out_total", "SCTP packets sent on the path.", pathLabels)
	dPathBytesOut = desc("path_bytes_out_total", "SCTP bytes sent on the path.", pathLabels)
	dPathPktsIn   = desc("path_packets_in_total", "SCTP packets received on the path.", pathLabels)
	dPathBytesIn  = desc("path_bytes_in_total", "SCTP bytes received on the path.", pathLabels)
	dPathActive   = desc("path_active", "1 if the path is active (confirmed and reachable), else 0.", pathLabels)
	dPathPrimary  = desc("path_primary", "1 if the path is the association's primary path, else 0.", pathLabels)
	dPathInUse    = desc("path_in_use", "1 if new data goes to the path now, else 0.", pathLabels)
	dPathSRTT     = desc("path_srtt_seconds", "Smoothed round-trip time of the path (0 before the first measurement; RFC 9260 section 6.3).", pathLabels)
	dPathRTO      = desc("path_rto_seconds", "Retransmission timeout of the path (RFC 9260 section 6.3).", pathLabels)
	dPathErrors   = desc("path_errors", "Error counter of the path (RFC 9260 section 8.2).", pathLabels)
	dPathHBSent   = desc("path_heartbeats_sent_total", "HEARTBEATs the stack sent on the path.", pathLabels)
	dPathHBAcked  = desc("path_heartbeats_acked_total", "HEARTBEAT-ACKs received for them.", pathLabels)

	allDescs = []*prometheus.Desc{
		dStackUDPPort, dEndpoints, dOOTBReplies, dOOTBDropped, dDrops,
		dRxDatagrams, dRxBytes, dTxDatagrams, dTxBytes, dRxDropped, dRxErrors, dTxErrors, dTxSegmented, dRxCoalesced, dRxThrough,
		dAssociations,
		dMsgsIn, dMsgsOut, dAssocDrops, dUnrecog, dHeartbeats, dRemoteErrs, dSendFailed, dEstablished, dStreamsOut, dStreamsIn,
		dPathPktsOut, dPathBytesOut, dPathPktsIn, dPathBytesIn, dPathActive, dPathPrimary,
		dPathInUse, dPathSRTT, dPathRTO, dPathErrors, dPathHBSent, dPathHBAcked,
	}
)

type collector struct {
	stacks []*sock.Stack
}

// NewCollector returns a collector of the stacks' counters, read at each
// scrape. A nil stack or one listed twice is ignored.
func NewCollector(stacks ...*sock.Stack) prometheus.Collector {
	var c collector
	for _, s := range stacks {
		if s != nil && !slices.Contains(c.stacks, s) {
			c.stacks = append(c.stacks, s)
		}
	}
	return &c
}

// Handler returns an http.Handler that serves the stacks' metrics (and
// nothing else: no Go runtime or process metrics) in the Prometheus
// exposition format.
func Handler(stacks ...*sock.Stack) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(stacks...))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// EndpointLabel is the endpoint label of an endpoint: its local transport
// addresses joined by commas ("127.0.0.1:3868", "10.0.0.1:3868,[fd00::1]:3868").
func EndpointLabel(ep *sock.Endpoint) string {
	var b strings.Builder
	for i, a := range ep.Addrs() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(netip.AddrPortFrom(a, ep.Port()).String())
	}
	return b.String()
}

// PeerLabel is the peer label of an association: the peer's first address
// (the one it was set up with, which does not change with the primary
// path) and SCTP port.
func PeerLabel(a *sock.Association) string {
	paths := a.Paths()
	if len(paths) == 0 {
		return ":" + strconv.Itoa(int(a.PeerPort()))
	}
	return netip.AddrPortFrom(paths[0].Remote, a.PeerPort()).String()
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for i, s := range c.stacks {
		sl := strconv.Itoa(int(s.UDPPort()))
		if seen[sl] { // two stacks not yet bound (port 0)
			sl += "#" + strconv.Itoa(i)
		}
		seen[sl] = true
		c.collectStack(ch, s, sl)
	}
}

func (c *collector) collectStack(ch chan<- prometheus.Metric, s *sock.Stack, sl string) {
	st := s.Stats()
	gauge(ch, dStackUDPPort, float64(s.UDPPort()), sl)
	counter(ch, dOOTBReplies, st.OOTBReplies, sl)
	counter(ch, dOOTBDropped, st.OOTBDropped, sl)
	for _, r := range sock.DropReasons() {
		counter(ch, dDrops, st.Drops[r], sl, r.String())
	}
	for addr, ss := range st.Sockets {
		so := netip.AddrPortFrom(addr, s.UDPPort()).String()
		counter(ch, dRxDatagrams, ss.RxDatagrams, sl, so)
		counter(ch, dRxBytes, ss.RxBytes, sl, so)
		counter(ch, dTxDatagrams, ss.TxDatagrams, sl, so)
		counter(ch, dTxBytes, ss.TxBytes, sl, so)
		counter(ch, dRxDropped, ss.RxTooShort, sl, so, "too_short")
		counter(ch, dRxDropped, ss.RxBadChecksum, sl, so, "bad_checksum")
		counter(ch, dRxErrors, ss.RxErrors, sl, so)
		counter(ch, dTxErrors, ss.TxErrors, sl, so)
		counter(ch, dTxSegmented, ss.TxSegmented, sl, so)
		counter(ch, dRxCoalesced, ss.RxCoalesced, sl, so)
		counter(ch, dRxThrough, ss.RxReadThrough, sl, so)
	}
	eps := s.Endpoints()
	gauge(ch, dEndpoints, float64(len(eps)), sl)
	seenEP := map[string]bool{}
	for _, ep := range eps {
		el := EndpointLabel(ep)
		if seenEP[el] {
			continue
		}
		seenEP[el] = true
		assocs := ep.Associations()
		gauge(ch, dAssociations, float64(len(assocs)), sl, el)
		seenPeer := map[string]bool{}
		for _, a := range assocs {
			pl := PeerLabel(a)
			if seenPeer[pl] { // a closing association and its successor
				continue
			}
			seenPeer[pl] = true
			as := a.Stats()
			counter(ch, dMsgsIn, as.MessagesIn, sl, el, pl)
			counter(ch, dMsgsOut, as.MessagesOut, sl, el, pl)
			counter(ch, dAssocDrops, as.DroppedForeign, sl, el, pl, "foreign")
			counter(ch, dAssocDrops, as.DroppedQueue, sl, el, pl, "queue")
			counter(ch, dAssocDrops, as.DroppedStream, sl, el, pl, "stream")
			counter(ch, dUnrecog, as.Unrecognized, sl, el, pl)
			counter(ch, dHeartbeats, as.HeartbeatsIn, sl, el, pl)
			counter(ch, dRemoteErrs, as.RemoteErrors, sl, el, pl)
			counter(ch, dSendFailed, as.SendFailed, sl, el, pl)
			gauge(ch, dEstablished, b2f(a.State() == sock.StateEstablished), sl, el, pl)
			out, in := a.Streams()
			gauge(ch, dStreamsOut, float64(out), sl, el, pl)
			gauge(ch, dStreamsIn, float64(in), sl, el, pl)
			for _, p := range a.Paths() {
				r := p.Remote.String()
				counter(ch, dPathPktsOut, p.PacketsOut, sl, el, pl, r)
				counter(ch, dPathBytesOut, p.BytesOut, sl, el, pl, r)
				counter(ch, dPathPktsIn, p.PacketsIn, sl, el, pl, r)
				counter(ch, dPathBytesIn, p.BytesIn, sl, el, pl, r)
				gauge(ch, dPathActive, b2f(p.State == sock.PathActive), sl, el, pl, r)
				gauge(ch, dPathPrimary, b2f(p.Primary), sl, el, pl, r)
				gauge(ch, dPathInUse, b2f(p.InUse), sl, el, pl, r)
				gauge(ch, dPathSRTT, p.SRTT.Seconds(), sl, el, pl, r)
				gauge(ch, dPathRTO, p.RTO.Seconds(), sl, el, pl, r)
				gauge(ch, dPathErrors, float64(p.ErrorCount), sl, el, pl, r)
				counter(ch, dPathHBSent, p.HeartbeatsSent, sl, el, pl, r)
				counter(ch, dPathHBAcked, p.HeartbeatsAcked, sl, el, pl, r)
			}
		}
	}
}
