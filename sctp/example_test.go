package sctp_test

import (
	"fmt"
	"log"

	"github.com/usock/usock/sctp"
	"github.com/usock/usock/sock"
)

// Two hosts in one process (two stacks on different UDP ports): an NGAP
// style exchange, PPID 60 on stream 1. A real program only changes its
// import path and, to reach its peer, sets USOCK_PEER_UDP_PORT.
func Example() {
	amfHost, _ := sock.NewStack(sock.WithUDPPort(0))
	defer amfHost.Close()
	gnbHost, _ := sock.NewStack(sock.WithUDPPort(0))
	defer gnbHost.Close()

	laddr, _ := sctp.ResolveSCTPAddr("sctp", "127.0.0.1:38412")
	ln, err := (&sctp.SocketConfig{Stack: amfHost}).Listen("sctp", laddr)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.AcceptSCTP()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SubscribeEvents(sctp.SCTP_EVENT_DATA_IO)
		buf := make([]byte, 1024)
		n, info, err := c.SCTPRead(buf)
		if err != nil {
			return
		}
		_, _ = c.SCTPWrite(append([]byte("answer to "), buf[:n]...), &sctp.SndRcvInfo{Stream: info.Stream, PPID: info.PPID})
	}()

	dialer := &sctp.SocketConfig{Stack: gnbHost, PeerUDPPort: amfHost.UDPPort()}
	conn, err := dialer.Dial("sctp", nil, laddr)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SubscribeEvents(sctp.SCTP_EVENT_DATA_IO)
	if _, err := conn.SCTPWrite([]byte("NGSetupRequest"), &sctp.SndRcvInfo{Stream: 1, PPID: 60}); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1024)
	n, info, err := conn.SCTPRead(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (stream %d, PPID %d)\n", buf[:n], info.Stream, info.PPID)
	// Output: answer to NGSetupRequest (stream 1, PPID 60)
}
