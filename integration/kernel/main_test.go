//go:build kernel

package kernel

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
)

// The two paths: the host (this test, in the namespace run.sh made) is .1
// and the guest .2 on each tap.
var (
	host1  = netip.MustParseAddr("10.9.1.1")
	host2  = netip.MustParseAddr("10.9.2.1")
	guest1 = netip.MustParseAddr("10.9.1.2")
	guest2 = netip.MustParseAddr("10.9.2.2")
)

// kernelUDPPort is the guest kernel's net.sctp.udp_port and encap_port.
const kernelUDPPort = 9899

// vm is the guest every case of the suite runs against, booted once.
var vm *guest

func TestMain(m *testing.M) {
	dir := os.Getenv("USOCK_GUEST_DIR")
	if dir == "" {
		fmt.Println("kernel: USOCK_GUEST_DIR is not set: run integration/kernel/run.sh, which builds the guest and the network namespace")
		os.Exit(1)
	}
	g, err := bootGuest(guestConfig{
		dir:   dir,
		taps:  []string{"tap0", "tap1"},
		addrs: []string{guest1.String() + "/24", guest2.String() + "/24"},
		mtu:   1500,
	})
	if err != nil {
		fmt.Printf("kernel: the guest does not boot with KVM nor TCG here: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("kernel: guest up under %s in %v\n", g.accel, g.booted.Round(100_000_000))
	vm = g
	code := m.Run()
	g.stop()
	os.Exit(code)
}
