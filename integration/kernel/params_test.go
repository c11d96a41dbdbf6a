//go:build kernel

package kernel

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Chunk and parameter types as tshark prints them: chunk types in
// decimal, parameter types in hexadecimal.
const (
	chunkInit, chunkInitAck = "1", "2"
	chunkECNE, chunkAuth    = "12", "15"
	chunkIData, chunkASCONF = "64", "193"
	chunkIForwardTSN        = "194"
	paramECN                = "0x8000"
	paramRandom             = "0x8002"
	paramChunkList          = "0x8003"
	paramHMAC               = "0x8004"
	paramSupportedExt       = "0x8008"
)

// TestKernelInitParameters: with every extension the kernel has turned
// on (ECN, AUTH, ASCONF, RE-CONFIG, PR-SCTP, I-DATA), its INIT carries
// their parameters (Random, Chunk List, HMAC-Algorithm, ECN, Supported
// Extensions with ASCONF, ASCONF-ACK, RE-CONFIG and AUTH, Forward-TSN
// Supported; I-DATA needs a socket option too). This stack handles each by the rules
// of RFC 9260 section 3.2.1 and negotiates none it does not implement:
// its INIT-ACK and INIT list no AUTH, ECN or I-DATA parameter nor
// ASCONF or I-DATA in Supported Extensions, and afterwards the kernel
// sends none of those chunks. Both directions: the kernel as client and
// as server.
func TestKernelInitParameters(t *testing.T) {
	vm.sh(t, "sysctl -q -w net.sctp.auth_enable=1 net.sctp.addip_enable=1 net.sctp.addip_noauth_enable=0 "+
		"net.sctp.reconf_enable=1 net.sctp.ecn_enable=1 net.sctp.prsctp_enable=1 net.sctp.intl_enable=1")
	t.Cleanup(func() {
		vm.sh(t, "sysctl -q -w net.sctp.auth_enable=0 net.sctp.addip_enable=0 net.sctp.reconf_enable=0 net.sctp.intl_enable=0")
	})
	for _, kernelIs := range []string{"client", "server"} {
		t.Run("kernel-"+kernelIs, func(t *testing.T) {
			c := checkWire(t)
			t.Cleanup(func() { vm.killPeers(t) })
			s := newStack(t)
			if kernelIs == "client" {
				echoEndpoint(t, s, 5062, 2, 16)
				cl := vm.start(t, "kpeer -mode client -connect "+host1.String()+" -rport 5062 -n 40 -streams 8 -sizes 1,3000,20000")
				cl.expect(t, `^VERIFIED n=40`, echoWait, `^FAIL`)
				if code := cl.wait(t, 20*time.Second); code != 0 {
					t.Fatalf("kernel client exited %d", code)
				}
			} else {
				kernelServer(t, "-mode echo -port 5061")
				ep, a := connect(t, s, []netip.Addr{host1}, []netip.Addr{guest1}, 5061)
				msgs := messages(40, 1, 3000, 20000)
				go sendAll(t, a, msgs)
				checkEchoes(t, ep, msgs)
				if err := a.Shutdown(waitCtx(t, 10*time.Second)); err != nil {
					t.Fatalf("shutdown: %v", err)
				}
			}
			checkNegotiation(t, c, kernelIs)
		})
	}
}

// checkNegotiation reads the capture: the kernel's INIT or INIT-ACK
// offered the extensions, ours took none it does not implement, and the
// kernel then used none.
func checkNegotiation(t *testing.T, c *capture, kernelIs string) {
	t.Helper()
	kernelChunk, ourChunk := chunkInit, chunkInitAck
	if kernelIs == "server" {
		kernelChunk, ourChunk = chunkInitAck, chunkInit
	}
	var sawKernel, sawOurs bool
	for _, r := range c.rows(t, "ip.src", "sctp.chunk_type", "sctp.parameter_type", "sctp.supported_chunk_type") {
		chunks, params, exts := strings.Split(r[1], "|"), strings.Split(r[2], "|"), strings.Split(r[3], "|")
		fromKernel := r[0] == guest1.String() || r[0] == guest2.String()
		switch {
		case fromKernel && slices.Contains(chunks, kernelChunk):
			sawKernel = true
			// The kernel's INIT offers every extension turned on; its
			// INIT-ACK only those our INIT offered too.
			offered := []string{paramRandom, paramChunkList, paramHMAC, paramECN, paramSupportedExt}
			if kernelChunk == chunkInitAck {
				offered = []string{paramSupportedExt}
			}
			for _, p := range offered {
				if !slices.Contains(params, p) {
					t.Errorf("the kernel's %s lacks parameter %s (its extensions are on): %v", name(kernelChunk), p, params)
				}
			}
		case !fromKernel && slices.Contains(chunks, ourChunk):
			sawOurs = true
			for _, p := range []string{paramRandom, paramChunkList, paramHMAC, paramECN} {
				if slices.Contains(params, p) {
					t.Errorf("our %s offers parameter %s, which the stack does not implement", name(ourChunk), p)
				}
			}
			for _, x := range []string{chunkAuth, chunkASCONF, chunkIData, chunkIForwardTSN} {
				if slices.Contains(exts, x) {
					t.Errorf("our %s lists chunk type %s in Supported Extensions", name(ourChunk), x)
				}
			}
		case fromKernel:
			for _, x := range []string{chunkAuth, chunkASCONF, chunkIData, chunkIForwardTSN, chunkECNE} {
				if slices.Contains(chunks, x) {
					t.Errorf("the kernel sent chunk type %s, which was not negotiated", x)
				}
			}
		}
	}
	if !sawKernel || !sawOurs {
		t.Errorf("the capture lacks the handshake: the kernel's %s %v, ours %v", name(kernelChunk), sawKernel, sawOurs)
	}
}

func name(chunk string) string {
	switch chunk {
	case chunkInit:
		return "INIT"
	case chunkInitAck:
		return "INIT-ACK"
	}
	return fmt.Sprintf("chunk %s", chunk)
}
