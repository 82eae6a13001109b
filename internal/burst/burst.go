// Package burst runs a connection's writer on one goroutine at a time,
// started only when there is work: a connection that is idle owns no
// goroutine for writing. sse's taken-over streams and ws's writers use it.
//
// The rule that loses no work: Kick sets pending, then starts a run unless
// one is on; a run clears pending (Begin) before it looks for work, and
// when it has done all it found it clears running and looks at pending
// again (Idle): work that came while it looked is either seen by it or
// starts the next run.
package burst

import "sync/atomic"

// Gate is the state of one connection's runs. The zero value is idle.
type Gate struct {
	pending atomic.Bool // work came since the run last looked
	running atomic.Bool // a run is on (or the connection ended: it stays set)
}

// Kick records work and reports whether the caller must start a run
// (on a goroutine of its own): none was on. A run that leaves work for a
// next turn kicks itself (Kick then reports false) and Idle goes on.
func (g *Gate) Kick() (start bool) {
	g.pending.Store(true)
	return g.running.CompareAndSwap(false, true)
}

// Claim makes the caller the running run, for a connection that starts
// with one: kicks before its first Begin only leave pending set. Call it
// before anything can Kick.
func (g *Gate) Claim() { g.running.Store(true) }

// Begin is called by the run before it looks for work.
func (g *Gate) Begin() { g.pending.Store(false) }

// Idle is called by the run when it has done all the work it found; it
// reports whether the run must go on (work came meanwhile, and no other
// run took it). A run that ends the connection, or hands itself over to
// be restarted later (a coalescing hold), returns without Idle: running
// stays set, so kicks start nothing.
func (g *Gate) Idle() (again bool) {
	g.running.Store(false)
	return g.pending.Load() && g.running.CompareAndSwap(false, true)
}
