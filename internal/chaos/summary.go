package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Summary is the outcome of a run.
type Summary struct {
	Run    string
	Config Config

	ChaosTime, DrainTime time.Duration

	Disconnects atomic.Int64 // random client kills
	LinkFaults  atomic.Int64 // cuts and black holes of broker links
	Restarts    atomic.Int64 // hub restarts

	mu       sync.Mutex
	kills    map[string]int // by client kind
	faults   map[string]int // by fault kind
	notes    []string
	Rows     []Row // one per world and client kind
	Gaps     map[string]int
	LostList []string // "subscriber: publisher #from-to"

	Published, Delivered, Lost, Duplicated, Reordered, Explained, GapSignals, Bad int
	PubErrors, PubAttempts                                                        int
}

// Row is one world's clients of one kind.
type Row struct {
	World, Role, Kind                                string
	Clients                                          int
	Sessions, Failures                               int64 // subscriber sessions started; ended without a kill
	Published, Attempts, Errors                      int64 // publishers
	Delivered, Lost, Dups, Reorders, Gaps, Explained int
	LastError                                        string
}

func (s *Summary) disconnect(kind string) {
	s.Disconnects.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kills == nil {
		s.kills = map[string]int{}
	}
	s.kills[kind]++
}

func (s *Summary) fault(kind string) {
	if kind == "restart-hub" || kind == "crash-hub" {
		s.Restarts.Add(1)
	} else {
		s.LinkFaults.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string]int{}
	}
	s.faults[kind]++
}

func (s *Summary) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) < 60 {
		s.notes = append(s.notes, fmt.Sprintf(format, args...))
	}
}

// OK reports whether the run kept the contract: nothing lost, nothing
// duplicated, nothing out of order, every payload ours.
func (s *Summary) OK() bool {
	return s.Lost == 0 && s.Duplicated == 0 && s.Reordered == 0 && s.Bad == 0
}

// settle computes the rows and totals once the clients have stopped.
func (s *Summary) settle(worlds []*world) {
	s.Gaps = map[string]int{}
	noteSubs := map[string]int{} // what a subscriber saw → how many saw it
	var noteOrder []string
	defer func() {
		for _, n := range noteOrder {
			if len(s.notes) < 60 {
				s.notes = append(s.notes, fmt.Sprintf("%s (at %d subscribers)", n, noteSubs[n]))
			}
		}
	}()
	for _, w := range worlds {
		acked := s.settlePubs(w)
		subRows := map[string]*Row{}
		var subOrder []string
		for _, sub := range w.subs {
			res := sub.t.settle(acked)
			r := subRows[sub.kind]
			if r == nil {
				r = &Row{World: w.name, Role: "sub", Kind: sub.kind}
				subRows[sub.kind] = r
				subOrder = append(subOrder, sub.kind)
			}
			r.Clients++
			r.Sessions += sub.sessions.Load()
			r.Failures += sub.failures.Load()
			if e, ok := sub.lastError.Load().(string); ok {
				r.LastError = e
			}
			r.Delivered += res.delivered
			r.Lost += res.lost
			r.Dups += res.dups
			r.Reorders += res.reorders
			r.Explained += res.explained
			for k, v := range res.gaps {
				r.Gaps += v
				s.Gaps[k] += v
				s.GapSignals += v
			}
			s.Delivered += res.delivered
			s.Lost += res.lost
			s.Duplicated += res.dups
			s.Reordered += res.reorders
			s.Explained += res.explained
			s.Bad += res.bad
			for _, l := range res.lostRanges {
				if len(s.LostList) < 40 {
					s.LostList = append(s.LostList, sub.name+": lost "+l)
				}
			}
			for _, n := range res.notes {
				if noteSubs[n] == 0 {
					noteOrder = append(noteOrder, n)
				}
				noteSubs[n]++
			}
		}
		for _, k := range subOrder {
			s.Rows = append(s.Rows, *subRows[k])
		}
	}
}

// settlePubs adds w's publisher rows and returns each publisher's
// highest acknowledged sequence number.
func (s *Summary) settlePubs(w *world) map[string]int {
	acked := map[string]int{}
	pubRows := map[string]*Row{}
	var pubOrder []string
	for _, p := range w.pubs {
		n := int(p.acked.Load())
		acked[p.name] = n
		r := pubRows[p.kind]
		if r == nil {
			r = &Row{World: w.name, Role: "pub", Kind: p.kind}
			pubRows[p.kind] = r
			pubOrder = append(pubOrder, p.kind)
		}
		r.Clients++
		r.Published += int64(n)
		r.Attempts += p.attempts.Load()
		r.Errors += p.errs.Load()
		if e, ok := p.lastErr.Load().(string); ok {
			r.LastError = e
		}
		s.Published += n
		s.PubErrors += int(p.errs.Load())
		s.PubAttempts += int(p.attempts.Load())
	}
	for _, k := range pubOrder {
		s.Rows = append(s.Rows, *pubRows[k])
	}
	return acked
}

// Print writes the summary table.
func (s *Summary) Print(out io.Writer) {
	c := s.Config
	fmt.Fprintf(out, "chaos run %s: seed %d, %v of chaos (+%v drain), %d disconnects asked, %d link faults + %d restarts asked\n\n",
		s.Run, c.Seed, s.ChaosTime.Round(time.Second), s.DrainTime.Round(time.Second), c.Disconnects, c.Faults, c.Restarts)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "world\trole\tkind\tclients\tsessions\tpublished\tattempts\terrors\tdelivered\tlost\tdup\torder\tgaps\tgapped\t")
	for _, r := range s.Rows {
		if r.Role == "pub" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\t%d\t%d\t%d\t\t\t\t\t\t\t\n", r.World, r.Role, r.Kind, r.Clients, r.Published, r.Attempts, r.Errors)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t\t\t\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.World, r.Role, r.Kind, r.Clients, r.Sessions,
				r.Delivered, r.Lost, r.Dups, r.Reorders, r.Gaps, r.Explained)
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "disconnects\t%d\t(%s)\n", s.Disconnects.Load(), kv(s.kills))
	links := map[string]int{}
	for k, v := range s.faults {
		if k != "restart-hub" && k != "crash-hub" {
			links[k] = v
		}
	}
	fmt.Fprintf(tw, "link faults\t%d\t(%s)\n", s.LinkFaults.Load(), kv(links))
	fmt.Fprintf(tw, "hub restarts\t%d\t(graceful %d, crash %d; their clients moved to the other hub)\n", s.Restarts.Load(), s.faults["restart-hub"], s.faults["crash-hub"])
	fmt.Fprintf(tw, "published\t%d\t(%d attempts, %d errors retried with their key)\n", s.Published, s.PubAttempts, s.PubErrors)
	fmt.Fprintf(tw, "delivered\t%d\t(per subscriber, each message once)\n", s.Delivered)
	fmt.Fprintf(tw, "lost\t%d\t\n", s.Lost)
	fmt.Fprintf(tw, "duplicated\t%d\t\n", s.Duplicated)
	fmt.Fprintf(tw, "out of order\t%d\t\n", s.Reordered)
	fmt.Fprintf(tw, "gaps\t%d\t(%s; %d messages skipped after them)\n", s.GapSignals, kv(s.Gaps), s.Explained)
	_ = tw.Flush()
	for _, l := range s.LostList {
		fmt.Fprintln(out, "  ", l)
	}
	for _, n := range s.notes {
		fmt.Fprintln(out, "  note:", n)
	}
	for _, r := range s.Rows {
		if r.LastError != "" {
			fmt.Fprintf(out, "  last error, %s %s %s: %.160s\n", r.World, r.Role, r.Kind, r.LastError)
		}
	}
	if s.OK() {
		fmt.Fprintln(out, "\nOK: every message exactly once and in order, or after an explicit gap signal")
	} else {
		fmt.Fprintln(out, "\nFAIL: the delivery contract was broken")
	}
}

func kv(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
