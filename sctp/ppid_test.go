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
