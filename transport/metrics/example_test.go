package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/metrics"
)

// Count REST publishes and serve them on /metrics.
func Example() {
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(broker, &transport.RESTOptions{Observer: m.Observer()}))
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/topics/news", "text/plain", strings.NewReader("hello"))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/metrics", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "switchboard_publishes_total") || strings.HasPrefix(sc.Text(), "switchboard_published_bytes_total") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// switchboard_published_bytes_total{transport="rest"} 5
	// switchboard_publishes_total{result="error",transport="rest"} 0
	// switchboard_publishes_total{result="ok",transport="rest"} 1
}
