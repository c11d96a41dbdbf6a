package sock_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/usock/usock/sock"
)

// A net.Listener and a Dialer on RecvPerAssociation endpoints: each Read
// returns one message, each Write sends one.
func ExampleNewListener() {
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

	// Server: an endpoint that accepts, a Listener over it.
	sep, err := serverStack.NewEndpoint(loopback, 3868, sock.AcceptMax(16), sock.WithRecvMode(sock.RecvPerAssociation))
	if err != nil {
		log.Fatal(err)
	}
	ln, err := sock.NewListener(sep, sock.SendInfo{PPID: 46})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1024)
		n, _ := c.Read(buf)
		fmt.Fprintf(c, "echo %s", buf[:n])
		_, _ = c.Read(buf) // io.EOF once the client closed
	}()

	// Client: a Dialer from an endpoint of its own.
	cep, err := clientStack.NewEndpoint(loopback, 0, sock.WithRecvMode(sock.RecvPerAssociation))
	if err != nil {
		log.Fatal(err)
	}
	d := sock.Dialer{Endpoint: cep, Defaults: sock.SendInfo{PPID: 46},
		Options: []sock.ConnectOption{sock.WithRemoteUDPPort(serverStack.UDPPort())}}
	c, err := d.DialContext(ctx, loopback, 3868)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.WriteString(c, "CER"); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1024)
	n, info, err := c.ReadMsg(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(buf[:n]), info.PPID, c.RemoteAddr())
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// echo CER 46 127.0.0.1:3868
}
