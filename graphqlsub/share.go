package graphqlsub

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/switchboard-go/switchboard/transport"
)

// DefaultShareBuffer is how many results of a shared subscription may wait
// for one subscriber before it is ended as a slow consumer (see
// Options.ShareSubscriptions).
const DefaultShareBuffer = 256

// shareGroup is one execution of a subscription operation that every
// subscriber with the same key receives (Options.ShareSubscriptions). The
// group's goroutine reads the Executor's results, encodes each once and
// hands it to every member's buffered channel without blocking.
type shareGroup struct {
	h      *Handler
	key    string
	cancel context.CancelFunc // ends the execution
	ready  chan struct{}      // closed once Executor.Subscribe returned

	mu      sync.Mutex
	members []*shareMember
	ended   bool // nobody joins any more (it may still be in h.groups)
}

// shareMember is one subscriber of a group.
type shareMember struct {
	ch   chan *Result // DefaultShareBuffer results + the final error
	idx  int          // position in the group's members while there
	gone bool         // left or ended: ch is closed
	stop func() bool  // stops the context.AfterFunc that leaves
}

// shareKey returns the key of the execution req shares: the identity in
// ctx, the operation name, the document, the variables and extensions.
// encoding/json writes map keys sorted, so equal variables give equal
// keys. ok is false when something does not encode (the operation then
// runs alone).
func shareKey(ctx context.Context, req *Request) (string, bool) {
	id, err := json.Marshal(transport.IdentityFrom(ctx))
	if err != nil {
		return "", false
	}
	vars, err := json.Marshal(req.Variables)
	if err != nil {
		return "", false
	}
	ext, err := json.Marshal(req.Extensions)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(id) + len(req.OperationName) + len(req.Query) + len(vars) + len(ext) + 4)
	for _, s := range [][]byte{id, []byte(req.OperationName), []byte(req.Query), vars, ext} {
		b.Write(s)
		b.WriteByte(0)
	}
	return b.String(), true
}

// subscribeShared joins the execution of req shared under key, starting it
// when there is none. The returned channel behaves as an Executor's: it is
// closed when the execution ends or ctx is done.
func (h *Handler) subscribeShared(ctx context.Context, key string, req *Request) (<-chan *Result, error) {
	m := &shareMember{ch: make(chan *Result, DefaultShareBuffer+1)}
	// Lock order: h.shareMu, then a group's mu; nothing holding a group's
	// mu takes h.shareMu.
	h.shareMu.Lock()
	if g := h.groups[key]; g != nil && g.join(m) {
		h.shareMu.Unlock()
		select {
		case <-g.ready: // subscribed before start returns, as alone
		case <-ctx.Done():
		}
		g.watch(ctx, m)
		return m.ch, nil
	}
	// The execution must not end with its first subscriber: it runs on a
	// context of its own, carrying the identity the key was made with.
	gctx, cancel := context.WithCancel(transport.WithIdentity(context.Background(), transport.IdentityFrom(ctx)))
	g := &shareGroup{h: h, key: key, cancel: cancel, ready: make(chan struct{})}
	g.add(m)
	h.groups[key] = g // replaces an ended group
	h.shareWG.Add(1)
	h.shareMu.Unlock()

	started := false
	defer func() {
		if started {
			return
		}
		// Subscribe failed or panicked (the panic goes on to the caller's
		// recover): whoever joined meanwhile gets the internal error the
		// first subscriber's transport reports.
		close(g.ready)
		g.finish(requestError(transport.CodeInternal, "internal error"), m)
		cancel()
		h.shareWG.Done()
	}()
	results, err := h.exec.Subscribe(gctx, req)
	if err != nil {
		return nil, err
	}
	started = true
	close(g.ready)
	g.watch(ctx, m)
	go g.run(results)
	return m.ch, nil
}

// watch makes m leave when ctx ends.
func (g *shareGroup) watch(ctx context.Context, m *shareMember) {
	stop := context.AfterFunc(ctx, func() { g.leave(m) })
	g.mu.Lock()
	m.stop = stop
	g.mu.Unlock()
}

// join makes m a member unless g has ended.
func (g *shareGroup) join(m *shareMember) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return false
	}
	g.add(m)
	return true
}

// add makes m a member; g.mu is held.
func (g *shareGroup) add(m *shareMember) {
	m.idx = len(g.members)
	g.members = append(g.members, m)
}

// remove takes m out of the members and closes its channel; g.mu is held.
func (g *shareGroup) remove(m *shareMember) {
	if m.gone {
		return
	}
	m.gone = true
	last := len(g.members) - 1
	g.members[m.idx] = g.members[last]
	g.members[m.idx].idx = m.idx
	g.members[last] = nil
	g.members = g.members[:last]
	close(m.ch)
}

// unmap takes g out of the Handler's groups (unless a new group took its
// key), so that the next subscriber starts a new execution; g.mu is not
// held.
func (g *shareGroup) unmap() {
	g.h.shareMu.Lock()
	if g.h.groups[g.key] == g {
		delete(g.h.groups, g.key)
	}
	g.h.shareMu.Unlock()
}

// leave removes m after its context ended; the last member to leave ends
// the execution.
func (g *shareGroup) leave(m *shareMember) {
	g.mu.Lock()
	g.remove(m)
	last := len(g.members) == 0
	if last {
		g.ended = true
	}
	g.mu.Unlock()
	if last {
		g.unmap()
		g.cancel()
	}
}

// run hands every result of the execution to the members, then closes
// their channels when the execution ends.
func (g *shareGroup) run(results <-chan *Result) {
	defer g.h.shareWG.Done()
	defer g.cancel()
	first := true
	for res := range results {
		// Encode once for every member; members only read res.
		res.enc = appendResult(nil, res)
		g.mu.Lock()
		if first && res.isRequestError() {
			g.ended = true // the execution ends: nobody else joins it
		}
		first = false
		for i := 0; i < len(g.members); {
			m := g.members[i]
			if len(m.ch) >= cap(m.ch)-1 {
				// Never wait for one subscriber: end it instead, with a
				// code it can act on (the slot kept free takes it).
				m.ch <- slowResult
				if m.stop != nil {
					m.stop()
				}
				g.remove(m) // moves the last member to i
				continue
			}
			m.ch <- res
			i++
		}
		empty := len(g.members) == 0
		if empty {
			g.ended = true
		}
		ended := g.ended
		g.mu.Unlock()
		if ended {
			g.unmap()
		}
		if empty {
			g.cancel() // the Executor closes results promptly
		}
	}
	g.finish(nil, nil)
}

// finish ends the group: every member but skip gets last (if any) and
// its channel closed.
func (g *shareGroup) finish(last *Result, skip *shareMember) {
	defer g.unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ended = true
	for len(g.members) > 0 {
		m := g.members[len(g.members)-1]
		if m != skip && last != nil {
			m.ch <- last // room: a member's channel keeps a slot free
		}
		if m.stop != nil {
			m.stop()
		}
		g.remove(m)
	}
}

// slowResult ends a member of a shared execution that fell
// DefaultShareBuffer results behind.
var slowResult = func() *Result {
	r := &Result{Data: json.RawMessage("null"), Errors: []*Error{{
		Message:    "graphqlsub: subscriber too slow, subscription ended: subscribe again",
		Extensions: map[string]any{"code": CodeSlowConsumer},
	}}}
	r.enc = appendResult(nil, r)
	return r
}()
