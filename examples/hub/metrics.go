package main

import (
	"flag"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/metrics"
)

var metricsOn bool

// Metrics: -metrics serves Prometheus metrics on /metrics: per-transport
// connections, subscriptions (and why they ended), deliveries, bytes and
// publish latency (see transport/metrics), plus the Go runtime's and the
// process's. grafana-dashboard.json graphs them.
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.BoolVar(&metricsOn, "metrics", false, "serve Prometheus metrics on /metrics")
	})
	setups = append(setups, func(h *hub) error {
		if !metricsOn {
			return nil
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m, err := metrics.New(reg, nil)
		if err != nil {
			return err
		}
		h.observer = transport.JoinObservers(h.observer, m.Observer())
		h.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		return nil
	})
}
