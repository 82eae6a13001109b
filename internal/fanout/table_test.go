package fanout_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

type sub struct {
	name    string
	filters []pubsub.Filter
}

func (s *sub) Filters() []pubsub.Filter { return s.filters }

func newSub(t *testing.T, name string, filters ...string) *sub {
	t.Helper()
	s := &sub{name: name}
	for _, f := range filters {
		pf, err := pubsub.ParseFilter(f)
		require.NoError(t, err)
		s.filters = append(s.filters, pf)
	}
	return s
}

// finds delivers topic and counts how often each subscription is offered
// it; the subscriptions in ended report that they ended.
func finds(tab *fanout.Table[*sub], topic string, ended ...*sub) (map[string]int, []*sub) {
	n := make(map[string]int)
	dead := tab.Deliver(topic, func(s *sub) bool {
		n[s.name]++
		for _, e := range ended {
			if e == s {
				return true
			}
		}
		return false
	}, nil)
	return n, dead
}

func names(subs []*sub) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.name)
	}
	return out
}

func TestDeliverMatches(t *testing.T) {
	tab := fanout.New[*sub]()
	exact := newSub(t, "exact", "a/b")
	plus := newSub(t, "plus", "a/+")
	plus2 := newSub(t, "plus2", "a/+")
	hash := newSub(t, "hash", "#")
	other := newSub(t, "other", "x/y", "x/+")
	both := newSub(t, "both", "a/b", "a/#")
	for _, s := range []*sub{exact, plus, plus2, hash, other, both} {
		require.True(t, tab.Add(s))
	}

	n, dead := finds(tab, "a/b")
	require.Empty(t, dead)
	// Once per matching filter: both is found under a/b and a/#.
	require.Equal(t, map[string]int{"exact": 1, "plus": 1, "plus2": 1, "hash": 1, "both": 2}, n)

	n, _ = finds(tab, "a/c")
	require.Equal(t, map[string]int{"plus": 1, "plus2": 1, "hash": 1, "both": 1}, n)

	n, _ = finds(tab, "x/y")
	require.Equal(t, map[string]int{"hash": 1, "other": 2}, n)

	n, _ = finds(tab, "$sys/x") // # does not match a $ topic
	require.Empty(t, n)
}

func TestDeliverReturnsEnded(t *testing.T) {
	tab := fanout.New[*sub]()
	a := newSub(t, "a", "t")
	b := newSub(t, "b", "t", "+")
	c := newSub(t, "c", "+")
	for _, s := range []*sub{a, b, c} {
		require.True(t, tab.Add(s))
	}
	_, dead := finds(tab, "t", b, c)
	// b is reported once per filter it was found under; the caller's
	// Remove is idempotent.
	require.ElementsMatch(t, []string{"b", "b", "c"}, names(dead))

	// dead is appended to.
	prev := []*sub{a}
	dead = tab.Deliver("t", func(s *sub) bool { return s == c }, prev[:1])
	require.Equal(t, []string{"a", "c"}, names(dead))
}

func TestRemove(t *testing.T) {
	tab := fanout.New[*sub]()
	a := newSub(t, "a", "t", "+")
	b := newSub(t, "b", "t", "+")
	require.True(t, tab.Add(a))
	require.True(t, tab.Add(b))

	require.True(t, tab.Remove(a))
	require.False(t, tab.Remove(a), "a second Remove")
	n, _ := finds(tab, "t")
	require.Equal(t, map[string]int{"b": 2}, n)
	require.Equal(t, []string{"b"}, names(tab.All()))

	require.True(t, tab.Remove(b))
	n, _ = finds(tab, "t")
	require.Empty(t, n)
	require.Empty(t, tab.All())
	require.False(t, tab.Remove(newSub(t, "never", "t")))
}

func TestAllOnceEach(t *testing.T) {
	tab := fanout.New[*sub]()
	a := newSub(t, "a", "t", "u", "+", "#")
	b := newSub(t, "b", "+")
	require.True(t, tab.Add(a))
	require.True(t, tab.Add(b))
	require.ElementsMatch(t, []string{"a", "b"}, names(tab.All()))
}

func TestCloseAll(t *testing.T) {
	tab := fanout.New[*sub]()
	a := newSub(t, "a", "t", "+")
	b := newSub(t, "b", "u")
	require.True(t, tab.Add(a))
	require.True(t, tab.Add(b))

	require.ElementsMatch(t, []string{"a", "b"}, names(tab.CloseAll()))
	require.False(t, tab.Add(newSub(t, "late", "t")), "Add after CloseAll")
	// The attached subscriptions stay until they remove themselves.
	n, _ := finds(tab, "t")
	require.Equal(t, map[string]int{"a": 2}, n)
	require.True(t, tab.Remove(a))
	require.True(t, tab.Remove(b))
	require.Empty(t, tab.CloseAll())
}

// TestConcurrent runs Add, Remove and All against one delivering
// goroutine, for the race detector.
func TestConcurrent(t *testing.T) {
	tab := fanout.New[*sub]()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var dead []*sub
		for {
			select {
			case <-stop:
				return
			default:
			}
			dead = tab.Deliver("a/b", func(*sub) bool { return false }, dead[:0])
		}
	}()
	var subs []*sub
	for i := range 200 {
		s := newSub(t, fmt.Sprint(i), "a/b", "a/+", fmt.Sprintf("a/%d", i))
		subs = append(subs, s)
		require.True(t, tab.Add(s))
		if i%3 == 0 {
			require.True(t, tab.Remove(s))
		}
		_ = tab.All()
	}
	close(stop)
	wg.Wait()
	require.Len(t, tab.CloseAll(), len(subs)-67)
}
