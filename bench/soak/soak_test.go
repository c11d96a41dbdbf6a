package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

// TestSoakShort runs the soak for five seconds: loss, cuts every second,
// nothing lost, duplicated or out of order.
func TestSoakShort(t *testing.T) {
	if c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}); err != nil {
		t.Skip("127.0.0.2 is not a local address here (only Linux routes all of 127.0.0.0/8 to loopback)")
	} else {
		c.Close()
	}
	var out bytes.Buffer
	sum, err := Run(context.Background(), Config{
		Duration: 5 * time.Second, Associations: 3, Streams: 4, Seed: 7, Loss: 0.02,
		CutInterval: time.Second, Rate: 500, Progress: 2 * time.Second, Drain: 30 * time.Second,
	}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(sum)
	if !sum.OK() {
		t.Fatalf("soak failed: %v", sum)
	}
	if sum.Delivered < 1000 {
		t.Fatalf("only %d messages delivered", sum.Delivered)
	}
}
