package sock_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"time"

	"github.com/usock/usock/sock"
)

var loopback = []netip.Addr{netip.MustParseAddr("127.0.0.1")}

// pair sets up what most examples start from: two stacks on loopback (two
// hosts, each on a free UDP encapsulation port), a listening endpoint on
// one, a connecting endpoint on the other and an association between
// them. The caller closes both stacks.
func pair(ctx context.Context) (serverStack, clientStack *sock.Stack, server, client *sock.Endpoint, assoc *sock.Association) {
	serverStack, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		log.Fatal(err)
	}
	clientStack, err = sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		log.Fatal(err)
	}
	server, err = serverStack.NewEndpoint(loopback, 0, sock.AcceptMax(16))
	if err != nil {
		log.Fatal(err)
	}
	client, err = clientStack.NewEndpoint(loopback, 0)
	if err != nil {
		log.Fatal(err)
	}
	assoc, err = client.Connect(ctx, loopback, server.Port(), sock.WithRemoteUDPPort(serverStack.UDPPort()))
	if err != nil {
		log.Fatal(err)
	}
	return serverStack, clientStack, server, client, assoc
}

func ExampleStack_NewEndpoint() {
	stack, err := sock.NewStack(sock.WithUDPPort(0)) // a free UDP encapsulation port
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Close()

	// SCTP port 3868 on 127.0.0.1, accepting up to 16 associations.
	ep, err := stack.NewEndpoint(loopback, 3868, sock.AcceptMax(16))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.Addrs(), ep.Port())

	// A transport address belongs to one endpoint only.
	_, err = stack.NewEndpoint(loopback, 3868)
	fmt.Println(errors.Is(err, sock.ErrAddressInUse))

	// Port 0 picks a free port from the dynamic range.
	client, err := stack.NewEndpoint(nil, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.Port() >= 49152)
	// Output:
	// [127.0.0.1] 3868
	// true
	// true
}

func ExampleAcceptMax() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server, _ := sock.NewStack(sock.WithUDPPort(0))
	defer server.Close()
	client, _ := sock.NewStack(sock.WithUDPPort(0))
	defer client.Close()

	// At most one association at a time; further INITs get an ABORT.
	listener, _ := server.NewEndpoint(loopback, 3868, sock.AcceptMax(1))
	first, _ := client.NewEndpoint(loopback, 0)
	second, _ := client.NewEndpoint(loopback, 0)
	udp := sock.WithRemoteUDPPort(server.UDPPort())

	if _, err := first.Connect(ctx, loopback, 3868, udp); err != nil {
		log.Fatal(err)
	}
	_, err := second.Connect(ctx, loopback, 3868, udp)
	fmt.Println("second:", errors.Is(err, sock.ErrRefused))
	fmt.Println("associations:", len(listener.Associations()))
	// Output:
	// second: true
	// associations: 1
}

func ExampleAcceptFunc() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server, _ := sock.NewStack(sock.WithUDPPort(0))
	defer server.Close()
	client, _ := sock.NewStack(sock.WithUDPPort(0))
	defer client.Close()

	// The function decides on each INIT before any state exists; here:
	// only peers on 127.0.0.0/8 whose SCTP port is even.
	allowed := netip.MustParsePrefix("127.0.0.0/8")
	listener, _ := server.NewEndpoint(loopback, 3868, sock.AcceptFunc(func(r sock.AcceptRequest) bool {
		return allowed.Contains(r.Peer.Addr()) && r.Peer.Port()%2 == 0
	}))
	_ = listener
	udp := sock.WithRemoteUDPPort(server.UDPPort())
	for _, port := range []uint16{50000, 50001} {
		ep, _ := client.NewEndpoint(loopback, port)
		_, err := ep.Connect(ctx, loopback, 3868, udp)
		fmt.Printf("from port %d: refused=%v\n", port, errors.Is(err, sock.ErrRefused))
	}
	// Output:
	// from port 50000: refused=false
	// from port 50001: refused=true
}

func ExampleEndpoint_Connect() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	server, _ := sock.NewStack(sock.WithUDPPort(0))
	defer server.Close()
	client, _ := sock.NewStack(sock.WithUDPPort(0))
	defer client.Close()
	listener, _ := server.NewEndpoint(loopback, 3868, sock.AcceptMax(16))
	ep, _ := client.NewEndpoint(loopback, 0)

	// The peer's UDP encapsulation port is 9899 unless told otherwise.
	assoc, err := ep.Connect(ctx, loopback, 3868, sock.WithRemoteUDPPort(server.UDPPort()))
	if err != nil {
		log.Fatal(err)
	}
	out, in := assoc.Streams()
	fmt.Println(assoc.State(), assoc.PeerPort(), out, in)

	// The listener learns of it as an event.
	ev, err := listener.Event(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listener:", ev.Type)

	// Nobody listens on port 9: the peer answers with an ABORT.
	_, err = ep.Connect(ctx, loopback, 9, sock.WithRemoteUDPPort(server.UDPPort()))
	fmt.Println(errors.Is(err, sock.ErrRefused))

	if err := assoc.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(assoc.State(), assoc.Reason())
	// Output:
	// ESTABLISHED 3868 16 16
	// listener: up
	// true
	// CLOSED shutdown
}

func ExampleAssociation_Send() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverStack, clientStack, server, _, assoc := pair(ctx)
	defer serverStack.Close()
	defer clientStack.Close()

	// Ordered on stream 1 with a PPID; unordered; partially reliable.
	_ = assoc.Send(ctx, []byte("ordered"), sock.SendInfo{Stream: 1, PPID: 46})
	_ = assoc.Send(ctx, []byte("unordered"), sock.SendInfo{Stream: 2, PPID: 51, Unordered: true})
	_ = assoc.Send(ctx, []byte("best effort"), sock.SendInfo{Stream: 3, PPID: 51, MaxRetransmits: 2})

	var got []string
	for range 3 {
		m, err := server.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%q stream %d PPID %d", m.Payload, m.Stream, m.PPID))
	}
	slices.Sort(got) // streams are independent: any order across them
	for _, g := range got {
		fmt.Println(g)
	}

	// Errors, nothing sent: a stream beyond the negotiated ones, an empty
	// message.
	err := assoc.Send(ctx, []byte("x"), sock.SendInfo{Stream: 100})
	fmt.Println(errors.Is(err, sock.ErrInvalidStream))
	fmt.Println(errors.Is(assoc.Send(ctx, nil, sock.SendInfo{}), sock.ErrEmptyMessage))
	// Output:
	// "best effort" stream 3 PPID 51
	// "ordered" stream 1 PPID 46
	// "unordered" stream 2 PPID 51
	// true
	// true
}

func ExampleEndpoint_Recv() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverStack, clientStack, server, client, assoc := pair(ctx)
	defer serverStack.Close()
	defer clientStack.Close()

	for i := range 3 {
		_ = assoc.Send(ctx, fmt.Appendf(nil, "message %d", i), sock.SendInfo{Stream: 0})
	}
	// Recv returns the messages of all the endpoint's associations; on one
	// stream they arrive in order.
	for range 3 {
		m, err := server.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s (stream %d)\n", m.Payload, m.Stream)
		// m.Association is the association to answer on.
		_ = m.Association.Send(ctx, []byte("ack"), sock.SendInfo{Stream: m.Stream})
	}
	var acks []string
	for range 3 {
		m, _ := client.Recv(ctx)
		acks = append(acks, string(m.Payload))
	}
	fmt.Println(acks)

	// With a deadline: no more messages.
	short, cancelShort := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancelShort()
	_, err := server.Recv(short)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output:
	// message 0 (stream 0)
	// message 1 (stream 0)
	// message 2 (stream 0)
	// [ack ack ack]
	// true
}

func ExampleStack_Endpoints() {
	stack, _ := sock.NewStack(sock.WithUDPPort(0))
	defer stack.Close()
	_, _ = stack.NewEndpoint(loopback, 3868, sock.AcceptMax(16))
	_, _ = stack.NewEndpoint(loopback, 2905, sock.AcceptMax(16))

	for _, ep := range stack.Endpoints() {
		fmt.Println(ep.Addrs(), ep.Port())
	}
	// The seed's get_ep: by transport address.
	ep, err := stack.Endpoint(loopback[0], 2905)
	fmt.Println(ep.Port(), err)
	_, err = stack.Endpoint(loopback[0], 1)
	fmt.Println(errors.Is(err, sock.ErrNotFound))
	// Output:
	// [127.0.0.1] 3868
	// [127.0.0.1] 2905
	// 2905 <nil>
	// true
}

func ExampleStack_FindAssociation() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverStack, clientStack, server, client, assoc := pair(ctx)
	defer serverStack.Close()
	defer clientStack.Close()

	// By local address and port, remote address and port (the seed's
	// find_assoc).
	found, err := clientStack.FindAssociation(loopback[0], client.Port(), loopback[0], server.Port())
	fmt.Println(found == assoc, err)

	// The server side finds its end of the same association.
	theirs, err := serverStack.FindAssociation(loopback[0], server.Port(), loopback[0], client.Port())
	fmt.Println(theirs != nil && theirs.PeerPort() == client.Port(), err)

	_, err = clientStack.FindAssociation(loopback[0], client.Port(), loopback[0], 1)
	fmt.Println(errors.Is(err, sock.ErrNotFound))
	// Output:
	// true <nil>
	// true <nil>
	// true
}

func ExampleAssociation_Paths() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverStack, clientStack, _, _, assoc := pair(ctx)
	defer serverStack.Close()
	defer clientStack.Close()

	_ = assoc.Send(ctx, []byte("hello"), sock.SendInfo{})
	// One path per peer address (the seed's get_paths); a single-homed
	// peer has one, confirmed by the handshake and primary.
	for _, p := range assoc.Paths() {
		fmt.Println(p.Remote, "from", p.Local, p.State, "primary:", p.Primary,
			"UDP port known:", p.RemoteUDPPort == serverStack.UDPPort(), "used:", p.PacketsOut > 0)
	}
	// Output:
	// 127.0.0.1 from 127.0.0.1 active primary: true UDP port known: true used: true
}

// Example_diameter is a Diameter-like exchange (RFC 6733 over SCTP, PPID
// 46): the client sends requests on streams 1 to 3, the server answers each
// on the stream it came on, and the client matches the answers to its
// requests by the hop-by-hop identifier in the header.
func Example_diameter() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverStack, clientStack, server, client, assoc := pair(ctx)
	defer serverStack.Close()
	defer clientStack.Close()
	const ppidDiameter = 46

	// A Diameter header: version, length (3 bytes), flags (R: request),
	// command code (3 bytes), application id, hop-by-hop id, end-to-end id.
	header := func(request bool, code, hopByHop uint32, body string) []byte {
		b := make([]byte, 20, 20+len(body))
		binary.BigEndian.PutUint32(b[0:], uint32(20+len(body)))
		b[0] = 1
		binary.BigEndian.PutUint32(b[4:], code)
		if request {
			b[4] = 0x80
		}
		binary.BigEndian.PutUint32(b[12:], hopByHop)
		binary.BigEndian.PutUint32(b[16:], hopByHop^0x5a5a5a5a)
		return append(b, body...)
	}
	hopByHop := func(m []byte) uint32 { return binary.BigEndian.Uint32(m[12:]) }

	// The server: answer every request on its stream, with its ids.
	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		for {
			m, err := server.Recv(ctx)
			if err != nil {
				return // closed
			}
			code := binary.BigEndian.Uint32(m.Payload[4:]) & 0xffffff
			answer := header(false, code, hopByHop(m.Payload), "Result-Code 2001 for "+string(m.Payload[20:]))
			_ = m.Association.Send(ctx, answer, sock.SendInfo{Stream: m.Stream, PPID: m.PPID})
		}
	}()

	// The client: three requests on three streams, pending by hop-by-hop id.
	pending := map[uint32]string{}
	for i, stream := range []uint16{1, 2, 3} {
		id := uint32(0x1000 + i)
		req := fmt.Sprintf("CCR %d", i)
		pending[id] = req
		if err := assoc.Send(ctx, header(true, 272, id, req), sock.SendInfo{Stream: stream, PPID: ppidDiameter}); err != nil {
			log.Fatal(err)
		}
	}
	var answers []string
	for len(pending) > 0 {
		m, err := client.Recv(ctx)
		if err != nil {
			log.Fatal(err)
		}
		id := hopByHop(m.Payload)
		req, ok := pending[id]
		if !ok {
			log.Fatalf("answer to unknown hop-by-hop id %#x", id)
		}
		delete(pending, id)
		answers = append(answers, fmt.Sprintf("%#x %s -> stream %d PPID %d: %s", id, req, m.Stream, m.PPID, m.Payload[20:]))
	}
	slices.Sort(answers) // the streams are independent: any order across them
	for _, a := range answers {
		fmt.Println(a)
	}

	_ = assoc.Shutdown(ctx)
	serverStack.Close()
	<-serverDone
	// Output:
	// 0x1000 CCR 0 -> stream 1 PPID 46: Result-Code 2001 for CCR 0
	// 0x1001 CCR 1 -> stream 2 PPID 46: Result-Code 2001 for CCR 1
	// 0x1002 CCR 2 -> stream 3 PPID 46: Result-Code 2001 for CCR 2
}

// An endpoint that asks for EventSenderDry learns when everything its
// associations sent is acknowledged: once at establishment, then after
// each burst; EventSendFailed tells of each message that was not (its
// Context is the one given to Send).
func ExampleWithSenderDryEvents() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverStack, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		log.Fatal(err)
	}
	defer serverStack.Close()
	clientStack, err := sock.NewStack(sock.WithUDPPort(0))
	if err != nil {
		log.Fatal(err)
	}
	defer clientStack.Close()
	server, err := serverStack.NewEndpoint(loopback, 0, sock.AcceptMax(16), sock.WithSenderDryEvents(true))
	if err != nil {
		log.Fatal(err)
	}
	client, err := clientStack.NewEndpoint(loopback, 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Connect(ctx, loopback, server.Port(), sock.WithRemoteUDPPort(serverStack.UDPPort())); err != nil {
		log.Fatal(err)
	}
	next := func() sock.Event {
		for {
			ev, err := server.Event(ctx)
			if err != nil {
				log.Fatal(err)
			}
			switch ev.Type {
			case sock.EventSendFailed:
				log.Printf("not delivered: message %d on stream %d (%s)", ev.Context, ev.Stream, ev.Detail)
			case sock.EventUp, sock.EventSenderDry:
				return ev
			}
		}
	}
	up := next()
	fmt.Println(up.Type)
	fmt.Println(next().Type) // nothing sent yet
	if err := up.Association.Send(ctx, []byte("answer"), sock.SendInfo{Stream: 1, PPID: 46, Context: 1}); err != nil {
		log.Fatal(err)
	}
	if _, err := client.Recv(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(next().Type) // the answer is acknowledged
	// Output:
	// up
	// sender dry
	// sender dry
}
