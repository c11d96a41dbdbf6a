package sctp

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKernelOrder: the kernel's sinfo_ppid holds the wire bytes, so a
// program reading it in host order sees what binary.NativeEndian makes of
// the big-endian wire bytes; 60 (NGAP) becomes 0x3c000000 on a
// little-endian host.
func TestKernelOrder(t *testing.T) {
	for _, wire := range []uint32{0, 46, 60, 0x01020304, 0xffffffff} {
		b := binary.BigEndian.AppendUint32(nil, wire)
		require.Equal(t, binary.NativeEndian.Uint32(b), kernelOrder(wire))
		require.Equal(t, wire, kernelOrder(kernelOrder(wire)))
	}
	if !hostBigEndian {
		require.Equal(t, uint32(0x3c000000), kernelOrder(60))
	}
}

func TestParseEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	e, err := parseEnv(env(nil))
	require.NoError(t, err)
	require.Equal(t, envSettings{}, e)

	e, err = parseEnv(env(map[string]string{EnvUDPPort: "9901", EnvPeerUDPPort: "9902", EnvPPID: "kernel"}))
	require.NoError(t, err)
	require.Equal(t, envSettings{udp: 9901, peerUDP: 9902, kernelPPID: true}, e)

	_, err = parseEnv(env(map[string]string{EnvPPID: "host"}))
	require.NoError(t, err)

	for _, m := range []map[string]string{
		{EnvUDPPort: "x"}, {EnvUDPPort: "70000"}, {EnvPeerUDPPort: "0"}, {EnvPPID: "network"},
	} {
		_, err = parseEnv(env(m))
		require.ErrorIs(t, err, ErrInvalidArgument, "%v", m)
		for k := range m {
			require.Contains(t, err.Error(), k, "the error names the variable")
		}
	}
}
