package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var serverTitle = map[string]string{"switchboard": "Switchboard", "centrifuge": "centrifuge v0.40.1", "mercure": "Mercure v0.24.2"}

// summary holds the medians over rounds of one server transport's figures.
type summary struct {
	KiBPerConn, CPUPerDeliveryUS, DeliveriesPerSec float64
	KiBPerHTTPConn                                 float64 // gRPC
	P50ms, P99ms, MaxMS                            float64
	Lost, Dups, Ended, Failed                      int64
	has                                            map[string]bool
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func summarize(all []result) map[string]*summary {
	type key struct{ s, t, ph string }
	vals := map[key]map[string][]float64{}
	out := map[string]*summary{}
	for _, r := range all {
		id := r.Server + "/" + r.Transport
		s := out[id]
		if s == nil {
			s = &summary{has: map[string]bool{}}
			out[id] = s
		}
		s.Lost += r.Lost
		s.Dups += r.Dups
		s.Ended += int64(r.Ended)
		s.Failed += int64(r.Failed)
		if r.Error != "" {
			continue
		}
		k := key{r.Server, r.Transport, r.Phase}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
		}
		m := vals[k]
		switch r.Phase {
		case "idle":
			m["kib"] = append(m["kib"], r.KiBPerConn)
			m["kibh"] = append(m["kibh"], r.KiBPerHTTPConn)
		case "fanout":
			m["cpu"] = append(m["cpu"], r.CPUPerDeliveryUS)
			m["dps"] = append(m["dps"], r.DeliveriesPerSec)
		case "latency":
			m["p50"] = append(m["p50"], r.P50ms)
			m["p99"] = append(m["p99"], r.P99ms)
			m["max"] = append(m["max"], r.MaxMS)
		}
		s.has[r.Phase] = true
	}
	for k, m := range vals {
		s := out[k.s+"/"+k.t]
		switch k.ph {
		case "idle":
			s.KiBPerConn, s.KiBPerHTTPConn = median(m["kib"]), median(m["kibh"])
		case "fanout":
			s.CPUPerDeliveryUS, s.DeliveriesPerSec = median(m["cpu"]), median(m["dps"])
		case "latency":
			s.P50ms, s.P99ms, s.MaxMS = median(m["p50"]), median(m["p99"]), median(m["max"])
		}
	}
	return out
}

// table renders the comparison: one row per figure, one column per server,
// and Switchboard's figure divided by centrifuge's (the aims are
// such ratios).
func table(c config, sum map[string]*summary) string {
	var b strings.Builder
	b.WriteString("| figure |")
	for _, s := range c.Servers {
		fmt.Fprintf(&b, " %s |", serverTitle[s])
	}
	ratio := slices.Contains(c.Servers, "switchboard") && slices.Contains(c.Servers, "centrifuge")
	if ratio {
		b.WriteString(" Switchboard ÷ centrifuge |")
	}
	b.WriteString("\n|---|")
	for range c.Servers {
		b.WriteString("---:|")
	}
	if ratio {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	type row struct {
		name, phase, tr string
		val             func(*summary) float64
		format          func(*summary) string
	}
	f := func(format string, get func(*summary) float64) func(*summary) string {
		return func(s *summary) string { return fmt.Sprintf(format, get(s)) }
	}
	kib := func(s *summary) float64 { return s.KiBPerConn }
	cpu := func(s *summary) float64 { return s.CPUPerDeliveryUS }
	dps := func(s *summary) float64 { return s.DeliveriesPerSec / 1000 }
	p99 := func(s *summary) float64 { return s.P99ms }
	lat := func(s *summary) string { return fmt.Sprintf("%.1f / %.1f / %.1f", s.P50ms, s.P99ms, s.MaxMS) }
	loss := func(s *summary) string { return fmt.Sprintf("%d / %d", s.Lost, s.Dups) }
	var rows []row
	for _, tr := range transports {
		rows = append(rows, row{"idle memory per " + idleUnit[tr] + " (KiB)", "idle", tr, kib, f("%.1f", kib)})
		if tr == "grpc" {
			kibh := func(s *summary) float64 { return s.KiBPerHTTPConn }
			rows = append(rows, row{fmt.Sprintf("idle memory per gRPC HTTP/2 connection of %d streams (KiB)", streamsPerConn), "idle", tr, kibh, f("%.0f", kibh)})
		}
	}
	for _, tr := range transports {
		rows = append(rows, row{"server CPU per delivery, " + transportTitle[tr] + ", max rate (µs)", "fanout", tr, cpu, f("%.2f", cpu)})
	}
	for _, tr := range transports {
		rows = append(rows, row{"deliveries/s, " + transportTitle[tr] + ", max rate (thousands)", "fanout", tr, dps, f("%.0f", dps)})
	}
	for _, tr := range transports {
		rows = append(rows, row{fmt.Sprintf("p50 / p99 / max at %d msg/s × %d, %s (ms)", c.LatencyRate, c.LatencySubs, transportTitle[tr]), "latency", tr, p99, lat})
	}
	for _, tr := range transports {
		rows = append(rows, row{"lost / duplicated deliveries, " + transportTitle[tr] + " (all runs)", "", tr, nil, loss})
	}
	for _, r := range rows {
		any := false
		var cells []string
		for _, s := range c.Servers {
			su := sum[s+"/"+r.tr]
			if su == nil || (r.phase != "" && !su.has[r.phase]) {
				cells = append(cells, "—")
				continue
			}
			any = true
			cells = append(cells, r.format(su))
		}
		if !any {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |", r.name, strings.Join(cells, " | "))
		if ratio {
			sb, cf := sum["switchboard/"+r.tr], sum["centrifuge/"+r.tr]
			if r.val != nil && sb != nil && cf != nil && sb.has[r.phase] && cf.has[r.phase] && r.val(cf) > 0 {
				fmt.Fprintf(&b, " %.2f |", r.val(sb)/r.val(cf))
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	// GraphQL's cost per event over plain WebSocket, on the same server.
	if sb := sum["switchboard/graphql"]; sb != nil && sb.has["fanout"] {
		if w := sum["switchboard/ws"]; w != nil && w.has["fanout"] && w.CPUPerDeliveryUS > 0 {
			fmt.Fprintf(&b, "| GraphQL per-event server CPU ÷ WS |")
			for _, s := range c.Servers {
				if s == "switchboard" {
					fmt.Fprintf(&b, " %.2f |", sb.CPUPerDeliveryUS/w.CPUPerDeliveryUS)
				} else {
					b.WriteString(" — |")
				}
			}
			if ratio {
				b.WriteString(" |")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// transports lists every transport in the order of the table and chart.
var transports = []string{"sse", "ws", "grpc", "graphql"}

var transportTitle = map[string]string{"sse": "SSE", "ws": "WS", "grpc": "gRPC", "graphql": "GraphQL"}

// idleUnit names what the idle memory of each transport is divided by.
var idleUnit = map[string]string{"sse": "SSE connection", "ws": "WS connection", "grpc": "gRPC stream", "graphql": "GraphQL (graphql-transport-ws) connection"}

func header(c config, info machine) string {
	return fmt.Sprintf("%s · %s, %d cores · Go %s · commit %s", info.Date, info.CPU, info.Cores, strings.TrimPrefix(info.Go, "go"), info.Commit)
}

func sizes(c config) string {
	return fmt.Sprintf("%d idle connections per server and transport; fan-out: %d subscribers × %d messages of %d B at max rate (publisher at most %d messages ahead of the average subscriber); latency: %d subscribers at %d msg/s for %s; %d round(s), order alternating, medians shown",
		c.IdleConns, c.FanoutSubs, c.FanoutMsgs, c.Size, c.Window, c.LatencySubs, c.LatencyRate, c.LatencyDur, c.Rounds)
}

func writeResults(c config, info machine, all []result) error {
	sum := summarize(all)
	tbl := table(c, sum)
	var md bytes.Buffer
	fmt.Fprintf(&md, "# peerbench results\n\n%s\n\n", header(c, info))
	fmt.Fprintf(&md, "Command (in internal/peerbench): `%s`  \n%s. Machine at the start: %s.\n\n", info.Command, sizes(c), info.QuietAtStart)
	md.WriteString(tbl)
	md.WriteString("\n![peerbench chart](results.png)\n\n")
	md.WriteString("## Every measurement\n\nBusy = the machine's CPU use in the second before the measurement (other processes).\n\n")
	md.WriteString("| round | server | transport | measurement | busy | connected | live | result |\n|---:|---|---|---|---:|---:|---:|---|\n")
	for _, r := range all {
		s := r.summary()
		if r.Error != "" {
			s = "error: " + r.Error
		}
		fmt.Fprintf(&md, "| %d | %s | %s | %s | %.0f%% | %d/%d | %d | %s |\n", r.Round, r.Server, r.Transport, r.Phase, r.BusyBefore*100, r.Connected, r.N, r.Live, s)
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.Out, "results.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(struct {
		Machine machine
		Config  config
		Results []result
	}{info, c, all}, "", "  ")
	if err := os.WriteFile(filepath.Join(c.Out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := chart(c, info, sum, filepath.Join(c.Out, "results.png")); err != nil {
		return err
	}
	fmt.Print(md.String())
	if c.Readme != "" {
		return updateReadme(c.Readme, fmt.Sprintf("%s  \n%s.\n\n%s", header(c, info), sizes(c), tbl))
	}
	return nil
}

const (
	readmeBegin = "<!-- peerbench:begin -->"
	readmeEnd   = "<!-- peerbench:end -->"
)

// updateReadme replaces what lies between the peerbench markers; a README
// without them is left alone.
func updateReadme(path, block string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		fmt.Fprintf(os.Stderr, "peerbench: %s has no %s … %s block; not updated\n", path, readmeBegin, readmeEnd)
		return nil
	}
	s = s[:i+len(readmeBegin)] + "\n" + block + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

var serverColor = map[string]color.Color{
	"switchboard": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"centrifuge":  color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"mercure":     color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// chart draws four grouped bar charts (a group per transport measured,
// one bar per server) under a header line with the date, machine and commit.
func chart(c config, info machine, sum map[string]*summary, path string) error {
	panels := []struct {
		title string
		get   func(*summary) float64
		phase string
	}{
		{"idle memory per connection (KiB; gRPC: per stream)", func(s *summary) float64 { return s.KiBPerConn }, "idle"},
		{"server CPU per delivery at max rate (µs)", func(s *summary) float64 { return s.CPUPerDeliveryUS }, "fanout"},
		{fmt.Sprintf("p99 latency at %d msg/s × %d (ms)", c.LatencyRate, c.LatencySubs), func(s *summary) float64 { return s.P99ms }, "latency"},
		{"deliveries per second at max rate (thousands)", func(s *summary) float64 { return s.DeliveriesPerSec / 1000 }, "fanout"},
	}
	const w, h, top = 11 * vg.Inch, 8 * vg.Inch, 0.45 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 2, PadX: vg.Inch / 4, PadY: vg.Inch / 4, PadTop: top + vg.Inch/8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8, PadBottom: vg.Inch / 8}
	bw := vg.Points(28)
	var titleStyle draw.TextStyle
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		titleStyle = p.Title.TextStyle
		var groups []string
		for _, tr := range transports {
			if slices.Contains(c.Transports, tr) {
				groups = append(groups, tr)
			}
		}
		var names []string
		for _, tr := range groups {
			names = append(names, transportTitle[tr])
		}
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
		p.Y.Min = 0
		top := 0.0
		n := len(c.Servers)
		for k, srv := range c.Servers {
			var vals plotter.Values // 0 where the server has no such transport
			for _, tr := range groups {
				s := sum[srv+"/"+tr]
				if s == nil || !s.has[pn.phase] {
					vals = append(vals, 0)
					continue
				}
				vals = append(vals, pn.get(s))
				top = max(top, pn.get(s))
			}
			if len(vals) == 0 {
				continue
			}
			bc, err := plotter.NewBarChart(vals, bw)
			if err != nil {
				return err
			}
			bc.Color = serverColor[srv]
			bc.LineStyle.Width = 0
			bc.Offset = bw * vg.Length(float64(k)-float64(n-1)/2)
			p.Add(bc)
			if i == 0 {
				p.Legend.Add(serverTitle[srv], bc)
			}
		}
		if top > 0 {
			p.Y.Max = top * 1.3 // room for the legend and the values
		}
		if i == 0 {
			p.Legend.Top = true
		}
		p.Draw(tiles.At(dc, i%2, i/2))
	}
	titleStyle.XAlign = draw.XCenter
	titleStyle.YAlign = draw.YTop
	dc.FillText(titleStyle, vg.Point{X: w / 2, Y: h - vg.Inch/8}, "peerbench · "+header(c, info))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
