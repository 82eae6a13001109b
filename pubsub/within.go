package pubsub

// Within reports whether filter only matches topic names that scope matches
// too: a client allowed scope may subscribe to filter without reaching any
// topic outside scope. Both are topic filters (a topic name is a filter
// without wildcards, so Within also answers whether a topic may be
// published to). It is false when either does not parse.
//
// For scope "user/alice/#": "user/alice/inbox", "user/alice/+" and
// "user/alice/#" are within; "user/+/#", "user/#", "#" and "+/alice/inbox"
// are not. It follows the matching rules of [Filter.Match]: a '#' also
// matches its parent level ("user/alice" is within "user/alice/#"), and a
// topic starting with '$' matches no filter whose first level is a
// wildcard, so "$SYS/x" is not within "#" while "#" is within "+/#".
//
// Use it in an Auth hook instead of comparing strings: a prefix test lets
// "user/alice/#" reach "user/alice2/…", and "user/+/…" through.
func Within(filter, scope string) bool {
	f, err := ParseFilter(filter)
	if err != nil {
		return false
	}
	s, err := ParseFilter(scope)
	if err != nil {
		return false
	}
	return f.Within(s)
}

// Within reports whether every topic name f matches is also matched by
// scope; see the function Within. The zero Filter is within nothing.
func (f Filter) Within(scope Filter) bool {
	fl, sl := f.levels, scope.levels
	if len(fl) == 0 || len(sl) == 0 {
		return false
	}
	for i := 0; i < len(fl) && i < len(sl); i++ {
		switch s, l := sl[i], fl[i]; {
		case s == "#":
			// scope takes every topic with these first i levels. A '$'
			// topic escapes a leading wildcard of scope, and f reaches
			// one only through a literal first level starting with '$'.
			return i > 0 || !dollar(l)
		case l == "#":
			// f takes any number of further levels (and the parent);
			// scope would need '#' here. At the root, "+/#" is as wide
			// as "#": there is no topic of zero levels.
			return i == 0 && s == "+" && len(sl) == 2 && sl[1] == "#"
		case s == "+":
			if i == 0 && dollar(l) {
				return false // '$' topics escape a leading '+' of scope
			}
		case l != s: // a literal of scope: f's level must be the same literal
			return false
		}
	}
	switch {
	case len(fl) == len(sl):
		return true
	case len(fl) < len(sl):
		// f's topics have exactly len(fl) levels: scope reaches them only
		// through a last '#' matching its parent level.
		return len(sl) == len(fl)+1 && sl[len(fl)] == "#"
	}
	return false // f's topics have more levels than scope allows
}

// dollar reports whether a first filter level reaches topics starting with
// '$' (only a literal one does).
func dollar(level string) bool { return len(level) > 0 && level[0] == '$' }
