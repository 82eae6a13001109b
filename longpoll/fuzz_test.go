package longpoll

import (
	"testing"

	"github.com/switchboard-go/switchboard/pubsub"
)

// FuzzParseRequest: any query gives valid filters, a bounded timeout and
// limit, or an error; never a panic.
func FuzzParseRequest(f *testing.F) {
	for _, q := range []string{"topic=a", "topic=a/%23&topic=b&cursor=x-1&timeout=30", "timeout=1.5s&topic=a", "topic=a&limit=5", "topic=%zz", "topic=a&timeout=-1", "topic=a&timeout=99999999999"} {
		f.Add(q)
	}
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
	f.Cleanup(func() { _ = b.Close() })
	o := NewHandler(b, &Options{MaxBatch: 10}).o
	f.Fuzz(func(t *testing.T, q string) {
		r, err := parseRequest(q, &o)
		if err != nil {
			return
		}
		if len(r.filters) == 0 || len(r.filters) > o.Limits.MaxSubscriptions {
			t.Fatalf("%d filters", len(r.filters))
		}
		for _, flt := range r.filters {
			if _, err := pubsub.ParseFilter(flt); err != nil {
				t.Fatal(err)
			}
		}
		if r.timeout < 0 || r.timeout > o.MaxTimeout || r.limit < 1 || r.limit > o.MaxBatch {
			t.Fatalf("out of bounds: %+v", r)
		}
	})
}
