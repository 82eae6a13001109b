package main

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain lets the test binary serve as the child server process too, as
// the peerbench binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "serve" {
		if err := serve(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestPayloadSize(t *testing.T) {
	for _, size := range []int{64, 256, 1000} {
		p := makePayload(12345, 1, size)
		require.Len(t, p, size)
		require.True(t, json.Valid(p), "%s", p)
	}
}

func TestHandleCountsEachMarker(t *testing.T) {
	r := &run{msgs: 10, recLat: true}
	s := &subscriber{r: r, seen: make([]uint64, 1)}
	// Two messages batched in one frame (as centrifuge sends them), then a
	// repeat, a warm-up probe, and a sequence number out of range.
	frame := fmt.Sprintf(`{"push":{"pub":{"data":%s}}}`+"\n"+`{"push":{"pub":{"data":%s}}}`,
		makePayload(3, 1, 64), makePayload(4, 1, 64))
	s.handle([]byte(frame))
	s.handle(makePayload(3, 1, 64))
	s.handle(makePayload(0, 0, 64))
	s.handle(makePayload(10, 1, 64))
	s.handle([]byte(`"seq":x`))
	require.EqualValues(t, 2, s.uniq)
	require.EqualValues(t, 1, s.dups)
	require.EqualValues(t, 2, s.foreign)
	require.True(t, s.warm.Load())
	require.Len(t, s.lat, 2)
	require.EqualValues(t, 2, r.unique.Load())
}

// TestEveryTargetDelivers runs each server transport at a tiny size, as
// separate processes, and checks that every subscriber got every message
// exactly once: the adapters (paths, frames, publish requests) are right.
func TestEveryTargetDelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	c := config{FanoutSubs: 20, FanoutMsgs: 30, Window: 8, LatencySubs: 10, LatencyRate: 50,
		LatencyDur: 200 * time.Millisecond, IdleConns: 30, IdleSettle: 100 * time.Millisecond,
		Size: 256, SrcIPs: 2, Settle: 50 * time.Millisecond, Drain: 5 * time.Second, PhaseTimeout: time.Minute}
	for _, tg := range targets() {
		for _, phase := range []string{"idle", "fanout", "latency"} {
			t.Run(tg.Server+"/"+tg.Transport+"/"+phase, func(t *testing.T) {
				res, err := measure(c, tg, phase)
				require.NoError(t, err)
				require.Zero(t, res.Failed)
				require.Equal(t, res.N, res.Live, "every subscriber received the probe")
				require.Zero(t, res.Ended)
				require.Zero(t, res.PubErrors)
				require.Equal(t, res.Msgs, res.PubOK)
				require.Zero(t, res.Lost)
				require.Zero(t, res.Dups)
				require.Zero(t, res.Foreign)
				if tg.Transport == "grpc" && phase == "idle" {
					require.Equal(t, 1, res.HTTPConns, "%d streams share one HTTP/2 connection", res.N)
					require.Positive(t, res.KiBPerHTTPConn)
				}
				if phase != "idle" {
					require.Positive(t, res.ServerCPUSeconds+1) // read without error
					require.Positive(t, res.MaxMS+res.DeliveriesPerSec)
				}
			})
		}
	}
}
