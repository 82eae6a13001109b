package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/ratelimit"
)

// Example limits each client to a burst of two publishes, then one every
// ten seconds: the third publish at once is answered 429 with Retry-After.
func Example() {
	lim := ratelimit.New(&ratelimit.Options{PublishRate: 0.1, PublishBurst: 2})
	b := pubsub.NewMemory(nil)
	defer b.Close()
	srv := httptest.NewServer(transport.NewRESTHandler(b, &transport.RESTOptions{Auth: lim.Wrap(nil)}))
	defer srv.Close()
	for range 3 {
		resp, err := http.Post(srv.URL+"/topics/news", "text/plain", strings.NewReader("hi"))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Println(resp.StatusCode, "Retry-After:", ra)
		} else {
			fmt.Println(resp.StatusCode)
		}
	}
	// Output:
	// 200
	// 200
	// 429 Retry-After: 10
}
