//go:build kernel

package kernel

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// engineRead is the largest packet the engine under the stack reads
// (pion's receiveMTU); the stack takes larger DATA chunks past it.
const engineRead = 8192

// TestLargeMTU: with the first link's MTU at 9000 and at 65535 on both
// sides, the kernel fragments messages at its path MTU (RFC 9260 section
// 6.9) and sends SCTP packets with single DATA chunks far above what the
// engine under this stack reads. Every echo must come back whole, and the
// capture must show such chunks from the kernel.
func TestLargeMTU(t *testing.T) {
	for _, mtu := range []int{9000, 65535} {
		t.Run(fmt.Sprintf("mtu%d", mtu), func(t *testing.T) {
			setMTU(t, mtu)
			c := checkWire(t)
			t.Cleanup(func() { vm.killPeers(t) })
			port := uint16(5100 + mtu%100)
			srv := kernelServer(t, fmt.Sprintf("-mode echo -port %d", port))
			ep, a := connect(t, newStack(t), []netip.Addr{host1}, []netip.Addr{guest1}, port)
			srv.expect(t, `^UP assoc=`, 10*time.Second)
			msgs := messages(32, 1, 1000, 8000, 9000, 16384, 40000, 65536)
			go sendAll(t, a, msgs)
			checkEchoes(t, ep, msgs)
			if err := a.Shutdown(waitCtx(t, 10*time.Second)); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			srv.expect(t, `^(DOWN|CLOSED|SHUTDOWN) assoc=`, 10*time.Second)

			largest := 0
			for _, r := range c.rows(t, "ip.src", "sctp.chunk_type", "sctp.chunk_length") {
				if r[0] != guest1.String() {
					continue
				}
				types, lengths := strings.Split(r[1], "|"), strings.Split(r[2], "|")
				for i := range types {
					if types[i] != "0" || i >= len(lengths) { // DATA
						continue
					}
					if n, err := strconv.Atoi(lengths[i]); err == nil && n > largest {
						largest = n
					}
				}
			}
			if largest <= engineRead {
				t.Fatalf("the kernel's largest DATA chunk was %d bytes: the case did not test chunks above %d", largest, engineRead)
			}
			t.Logf("the kernel's largest DATA chunk: %d bytes", largest)
		})
	}
}

// setMTU sets the MTU of the first link on both sides (tap0 and the
// guest's eth0) until the test ends. A tap device takes at most 65521
// (65535 less its Ethernet header): the host receives the guest's larger
// packets all the same.
func setMTU(t *testing.T, mtu int) {
	t.Helper()
	ipLink := func(n int) {
		if out, err := exec.Command("ip", "link", "set", "tap0", "mtu", strconv.Itoa(n)).CombinedOutput(); err != nil {
			t.Fatalf("ip link set tap0 mtu %d: %v: %s", n, err, out)
		}
	}
	ipLink(min(mtu, 65521))
	vm.sh(t, fmt.Sprintf("ip link set eth0 mtu %d", mtu))
	t.Cleanup(func() {
		ipLink(1500)
		vm.sh(t, "ip link set eth0 mtu 1500")
	})
}
