// Package metrics exports what every Switchboard transport reports to a
// transport.Observer as Prometheus metrics
// (github.com/prometheus/client_golang).
//
// Use it to graph and alert on a Switchboard server: create one Metrics
// on a registry, set its Observer on every handler's Options, and serve
// the registry (promhttp.HandlerFor) on /metrics:
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg, nil)
//	…
//	sseHandler := sse.NewHandler(broker, &sse.Options{Observer: m.Observer()})
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every series has a "transport" label (sse, longpoll, ws, grpc, graphql,
// mqtt, rest); names start with Options.Namespace ("switchboard"):
//
//	switchboard_connections                      gauge: sessions open now
//	switchboard_connections_total                counter: sessions opened
//	switchboard_subscriptions                    gauge: subscriptions delivering now
//	switchboard_subscriptions_total              counter: subscriptions started
//	switchboard_subscriptions_ended_total        counter, label reason: client, shutdown,
//	                                             slow_consumer, gap, auth, limit, broker, error
//	switchboard_deliveries_total                 counter: messages written to clients
//	switchboard_delivered_bytes_total            counter: bytes written for them
//	switchboard_publishes_total                  counter, label result: ok, error
//	switchboard_published_bytes_total            counter: payload bytes published
//	switchboard_publish_duration_seconds         histogram: Broker.Publish latency
//
// A subscription refused before it started counts in
// subscriptions_ended_total (reason "auth", or "limit") and never in
// subscriptions; one ended because the client
// fell behind counts with reason "slow_consumer" (its messages were
// dropped for it: the client resumes from its cursor).
//
// The hot path (a delivery) costs a lock-free map read and two atomic
// adds: the label values of each transport are resolved once.
package metrics

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-go/switchboard/transport"
)

// DefaultNamespace prefixes every metric name.
const DefaultNamespace = "switchboard"

// DefaultBuckets are the publish latency histogram's upper bounds, in
// seconds: 100 µs to 5 s.
var DefaultBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Options tunes New. The zero value uses the defaults.
type Options struct {
	// Namespace prefixes every name; "" means DefaultNamespace.
	Namespace string
	// ConstLabels are added to every series (a node name, a region).
	ConstLabels prometheus.Labels
	// Buckets of the publish latency histogram; nil means DefaultBuckets.
	Buckets []float64
}

// Metrics is a set of Prometheus collectors fed by a transport.Observer.
// It is safe for concurrent use.
type Metrics struct {
	conns, subs                *prometheus.GaugeVec
	connsTotal, subsTotal      *prometheus.CounterVec
	subsEnded                  *prometheus.CounterVec
	deliveries, deliveredBytes *prometheus.CounterVec
	publishes, publishedBytes  *prometheus.CounterVec
	publishLatency             *prometheus.HistogramVec
	mu                         sync.Mutex                         // serializes additions to byTransport
	byTransport                atomic.Pointer[map[string]*series] // copied on write: reads take no lock
	obs                        *transport.Observer
}

// series are the children of one transport label value.
type series struct {
	conns, subs                prometheus.Gauge
	connsTotal, subsTotal      prometheus.Counter
	deliveries, deliveredBytes prometheus.Counter
	publishOK, publishErr      prometheus.Counter
	publishedBytes             prometheus.Counter
	publishLatency             prometheus.Observer
	ended                      sync.Map // transport.EndReason → prometheus.Counter
}

// New creates the collectors and registers them on reg (nil:
// prometheus.DefaultRegisterer). It fails when reg refuses one (a name
// already registered). opts may be nil.
func New(reg prometheus.Registerer, opts *Options) (*Metrics, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	tr := []string{"transport"}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels}, tr)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels}, append(tr, labels...))
	}
	m := &Metrics{
		conns:          gauge("connections", "Sessions open now (connections, streams, held polls)."),
		connsTotal:     counter("connections_total", "Sessions opened."),
		subs:           gauge("subscriptions", "Subscriptions delivering now."),
		subsTotal:      counter("subscriptions_total", "Subscriptions started."),
		subsEnded:      counter("subscriptions_ended_total", "Subscriptions ended or refused, by reason.", "reason"),
		deliveries:     counter("deliveries_total", "Messages written to clients."),
		deliveredBytes: counter("delivered_bytes_total", "Bytes written to clients for the messages delivered."),
		publishes:      counter("publishes_total", "Publishes made for clients, by result.", "result"),
		publishedBytes: counter("published_bytes_total", "Payload bytes published for clients."),
		publishLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "publish_duration_seconds",
			Help: "Time the broker took to accept a publish.", ConstLabels: o.ConstLabels, Buckets: o.Buckets}, tr),
	}
	m.byTransport.Store(&map[string]*series{})
	var errs []error
	for _, c := range []prometheus.Collector{m.conns, m.connsTotal, m.subs, m.subsTotal, m.subsEnded,
		m.deliveries, m.deliveredBytes, m.publishes, m.publishedBytes, m.publishLatency} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m.obs = &transport.Observer{
		ConnOpened: func(ev transport.ConnEvent) {
			s := m.series(ev.Transport)
			s.conns.Inc()
			s.connsTotal.Inc()
		},
		ConnClosed: func(ev transport.ConnEvent) { m.series(ev.Transport).conns.Dec() },
		SubStarted: func(ev transport.SubEvent) {
			s := m.series(ev.Transport)
			s.subs.Inc()
			s.subsTotal.Inc()
		},
		SubEnded: func(ev transport.SubEvent) {
			s := m.series(ev.Transport)
			if !ev.Refused { // a refusal never started
				s.subs.Dec()
			}
			m.ended(s, ev.Transport, ev.Reason).Inc()
		},
		Published: func(ev transport.PublishEvent) {
			s := m.series(ev.Transport)
			if ev.Err != nil {
				s.publishErr.Inc()
				return
			}
			s.publishOK.Inc()
			s.publishedBytes.Add(float64(ev.Bytes))
			s.publishLatency.Observe(ev.Latency.Seconds())
		},
		Delivered: func(ev transport.DeliveryEvent) {
			s := m.series(ev.Transport)
			s.deliveries.Inc()
			s.deliveredBytes.Add(float64(ev.Bytes))
		},
	}
	return m, nil
}

// Observer returns the Observer feeding m: set it on every handler's
// Options (join it with others with transport.JoinObservers).
func (m *Metrics) Observer() *transport.Observer { return m.obs }

// series returns the children for one transport, creating them once.
func (m *Metrics) series(tr string) *series {
	if s := (*m.byTransport.Load())[tr]; s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.byTransport.Load()
	if s := old[tr]; s != nil {
		return s
	}
	s := &series{
		conns:          m.conns.WithLabelValues(tr),
		connsTotal:     m.connsTotal.WithLabelValues(tr),
		subs:           m.subs.WithLabelValues(tr),
		subsTotal:      m.subsTotal.WithLabelValues(tr),
		deliveries:     m.deliveries.WithLabelValues(tr),
		deliveredBytes: m.deliveredBytes.WithLabelValues(tr),
		publishOK:      m.publishes.WithLabelValues(tr, "ok"),
		publishErr:     m.publishes.WithLabelValues(tr, "error"),
		publishedBytes: m.publishedBytes.WithLabelValues(tr),
		publishLatency: m.publishLatency.WithLabelValues(tr),
	}
	next := make(map[string]*series, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[tr] = s
	m.byTransport.Store(&next)
	return s
}

// ended returns the end counter of one transport and reason.
func (m *Metrics) ended(s *series, tr string, r transport.EndReason) prometheus.Counter {
	if c, ok := s.ended.Load(r); ok {
		return c.(prometheus.Counter)
	}
	c, _ := s.ended.LoadOrStore(r, m.subsEnded.WithLabelValues(tr, string(r)))
	return c.(prometheus.Counter)
}
