package reliability

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/usock/usock/sock"
)

// baseSeed is the seed of the suite; RELIABILITY_SEED replaces it to replay
// or explore.
func baseSeed(t testing.TB) uint64 {
	if s := os.Getenv("RELIABILITY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		require.NoError(t, err, "RELIABILITY_SEED")
		return v
	}
	return 0x5eed_2026
}

// reportSeed prints the seed when t fails, and how to replay the run
// (RELIABILITY_SEED sets the suite's base seed, from which each case
// derives its own).
func reportSeed(t testing.TB, seed uint64) {
	base := baseSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %#x (replay: RELIABILITY_SEED=%#x go test ./reliability -run '^%s$')", seed, base, t.Name())
		}
	})
}

// tuned is the telecom-style setting: short timers so that simulated
// minutes stay short.
func tuned() []sock.EndpointOption {
	return []sock.EndpointOption{
		sock.WithRTOMin(10 * time.Millisecond), sock.WithRTOInitial(100 * time.Millisecond), sock.WithRTOMax(time.Second),
		sock.WithHeartbeatInterval(100 * time.Millisecond), sock.WithPFThreshold(0),
		sock.WithStreams(numStreams, numStreams),
	}
}
