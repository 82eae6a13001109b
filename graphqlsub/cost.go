package graphqlsub

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/switchboard-go/switchboard/internal/clip"
)

// CodeTooCostly is the extensions.code of the request error refusing an
// operation whose cost or depth is over Options.MaxCost or
// Options.MaxDepth, before it runs.
const CodeTooCostly = "too_costly"

// errCost marks a document the cost analysis cannot read.
var errCost = errors.New("graphqlsub: cannot estimate the cost of the document")

// listArguments are the arguments that say how many items a list field
// returns: its cost multiplies the cost of the field's selections.
var listArguments = map[string]bool{"limit": true, "first": true, "last": true}

// maxCostValue saturates cost arithmetic.
const maxCostValue = math.MaxInt64 / 4

// queryCost estimates the work of the operation req selects, before it
// runs, from the document alone (no schema): every field counts 1, each
// alias separately, fragments expanded where they are spread, and a
// field's selections count once per item its limit, first or last
// argument asks for (a literal or a variable). depth is the deepest field
// nesting. Without operationName and with several operations, the most
// costly counts (the engine refuses such a request anyway).
func queryCost(req *Request) (cost, depth int64, err error) {
	d, err := parseDocument(req.Query)
	if err != nil {
		return 0, 0, err
	}
	c := coster{doc: d, vars: req.Variables, memo: map[string][2]int64{}, busy: map[string]bool{}}
	for _, op := range d.ops {
		if req.OperationName != "" && op.name != req.OperationName {
			continue
		}
		c.defaults = op.defaults
		oc, od, err := c.set(op.sel)
		if err != nil {
			return 0, 0, err
		}
		cost, depth = max(cost, oc), max(depth, od)
	}
	return cost, depth, nil
}

type coster struct {
	doc      *document
	vars     map[string]any
	defaults map[string]string // variable defaults of the operation
	memo     map[string][2]int64
	busy     map[string]bool
}

// set returns the cost of one item of a selection set (its fields, and
// their selections times their list sizes) and its depth.
func (c *coster) set(sel []selection) (cost, depth int64, err error) {
	for _, s := range sel {
		var sc, sd int64
		switch {
		case s.spread != "":
			sc, sd, err = c.fragment(s.spread)
		case s.field == "":
			sc, sd, err = c.set(s.sel) // inline fragment
		default:
			var cc int64
			cc, sd, err = c.set(s.sel)
			sc = add(1, mul(c.listSize(s.args), cc))
			sd++
		}
		if err != nil {
			return 0, 0, err
		}
		cost, depth = add(cost, sc), max(depth, sd)
	}
	return cost, depth, nil
}

// fragment returns the cost and depth of a named fragment, computed once
// (fragments spread inside fragments cannot blow the analysis up).
func (c *coster) fragment(name string) (int64, int64, error) {
	if v, ok := c.memo[name]; ok {
		return v[0], v[1], nil
	}
	f, ok := c.doc.fragments[name]
	if !ok {
		return 0, 0, fmt.Errorf("%w: unknown fragment %q", errCost, clip.String(name))
	}
	if c.busy[name] {
		return 0, 0, fmt.Errorf("%w: fragment %q spreads itself", errCost, clip.String(name))
	}
	c.busy[name] = true
	cost, depth, err := c.set(f)
	delete(c.busy, name)
	if err != nil {
		return 0, 0, err
	}
	c.memo[name] = [2]int64{cost, depth}
	return cost, depth, nil
}

// listSize is the largest list argument of a field (at least 1).
func (c *coster) listSize(args map[string]string) int64 {
	n := int64(1)
	for k, v := range args {
		if !listArguments[k] {
			continue
		}
		if len(v) > 1 && v[0] == '$' {
			n = max(n, c.variable(v[1:]))
			continue
		}
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			n = max(n, i)
		}
	}
	return min(n, maxCostValue)
}

// variable returns the integer value of a variable (its default when the
// request has none), or 1.
func (c *coster) variable(name string) int64 {
	if v, ok := c.vars[name]; ok {
		switch x := v.(type) {
		case float64:
			if x >= 1 {
				return int64(min(x, maxCostValue))
			}
		case int:
			return int64(x)
		case int64:
			return x
		case interface{ Int64() (int64, error) }: // json.Number
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		return 1
	}
	if i, err := strconv.ParseInt(c.defaults[name], 10, 64); err == nil {
		return i
	}
	return 1
}

func add(a, b int64) int64 { return min(a+b, maxCostValue) }

func mul(a, b int64) int64 {
	if a != 0 && b > maxCostValue/a {
		return maxCostValue
	}
	return a * b
}
