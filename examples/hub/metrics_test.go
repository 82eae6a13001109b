package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/ws"
)

// scrape GETs /metrics (what curl does) and returns the samples by their
// series ("name{label="v",...}" as Prometheus writes it: labels sorted).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	samples := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		samples[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return samples
}

// waitSample polls /metrics until series has value v: a connection's close
// is seen by the server after the client's, with no signal to wait on.
func waitSample(t *testing.T, base, series string, v float64) {
	t.Helper()
	require.Eventually(t, func() bool { return scrape(t, base)[series] == v },
		30*time.Second, 20*time.Millisecond, "%s never became %v; last: %v", series, v, scrape(t, base)[series])
}

// TestHubMetricsMove is the acceptance test: with -metrics, the
// per-transport series on /metrics move as clients connect, receive and
// are cut.
func TestHubMetricsMove(t *testing.T) {
	base := startHub(t, "-metrics")
	before := scrape(t, base)
	require.Contains(t, before, "go_goroutines", "the Go runtime's metrics are served too")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing assertion
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events?topic=demo/%23&format=envelope", nil)
	require.NoError(t, err)
	sseResp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer sseResp.Body.Close()
	require.Equal(t, http.StatusOK, sseResp.StatusCode)
	lines := bufio.NewScanner(sseResp.Body)

	wc, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	require.NoError(t, err)
	defer wc.Close()
	wsub, err := wc.Subscribe(ctx, "demo/#", nil)
	require.NoError(t, err)

	waitSample(t, base, `switchboard_connections{transport="sse"}`, 1)
	waitSample(t, base, `switchboard_connections{transport="ws"}`, 1)
	m := scrape(t, base)
	require.Equal(t, 1.0, m[`switchboard_subscriptions{transport="sse"}`])
	require.Equal(t, 1.0, m[`switchboard_subscriptions{transport="ws"}`])

	resp, err := http.Post(base+"/topics/demo/a", "text/plain", strings.NewReader("hello"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ev := <-wsub.C()
	require.Equal(t, "hello", string(ev.Message.Data))
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "data: {\"topic\":\"demo/a\"") {
	}
	require.NoError(t, lines.Err())

	m = scrape(t, base)
	require.Equal(t, 1.0, m[`switchboard_publishes_total{result="ok",transport="rest"}`])
	require.Equal(t, 5.0, m[`switchboard_published_bytes_total{transport="rest"}`])
	require.Equal(t, 1.0, m[`switchboard_publish_duration_seconds_count{transport="rest"}`])
	require.Equal(t, 1.0, m[`switchboard_deliveries_total{transport="ws"}`])
	require.Equal(t, 1.0, m[`switchboard_deliveries_total{transport="sse"}`])
	require.Greater(t, m[`switchboard_delivered_bytes_total{transport="sse"}`], 5.0)
	require.Greater(t, m[`switchboard_delivered_bytes_total{transport="ws"}`], 5.0)

	// Cut both clients: the gauges fall back, the ends are counted.
	require.NoError(t, wc.Close())
	cancel()
	waitSample(t, base, `switchboard_connections{transport="sse"}`, 0)
	waitSample(t, base, `switchboard_connections{transport="ws"}`, 0)
	m = scrape(t, base)
	require.Equal(t, 0.0, m[`switchboard_subscriptions{transport="sse"}`])
	require.Equal(t, 0.0, m[`switchboard_subscriptions{transport="ws"}`])
	require.Equal(t, 1.0, m[`switchboard_subscriptions_ended_total{reason="client",transport="sse"}`])
	require.Equal(t, 1.0, m[`switchboard_subscriptions_ended_total{reason="client",transport="ws"}`])
	require.Equal(t, 1.0, m[`switchboard_connections_total{transport="sse"}`])
	require.Equal(t, 1.0, m[`switchboard_connections_total{transport="ws"}`])

	// grafana-dashboard.json queries only series the hub serves.
	served := map[string]bool{}
	for series := range m {
		name, _, _ := strings.Cut(series, "{")
		served[name] = true
	}
	for name := range dashboardMetrics(t) {
		require.True(t, served[name], "grafana-dashboard.json queries %s, which the hub does not serve", name)
	}
}

func TestHubWithoutMetricsServesNone(t *testing.T) {
	base := startHub(t)
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// dashboardMetrics returns the switchboard_ metric names the queries of
// grafana-dashboard.json use.
func dashboardMetrics(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("grafana-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	names := map[string]bool{}
	re := regexp.MustCompile(`switchboard_[a-z_]+`)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			for _, n := range re.FindAllString(tg.Expr, -1) {
				names[n] = true
			}
		}
	}
	require.NotEmpty(t, names)
	return names
}
