package pubsub

import "strings"

// node is one level of the subscription trie. Publishing walks only the
// branches a topic can match, so its cost does not grow with the number of
// subscriptions that cannot match.
type node struct {
	children map[string]*node // exact levels
	plus     *node            // '+'
	hash     *node            // '#'
	subs     []*memSub        // subscriptions whose filter ends here
	groups   []*group         // groups whose filter ends here
}

func (n *node) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.hash == nil && len(n.subs) == 0 && len(n.groups) == 0
}

// path returns the node for the filter's levels, creating it when create.
func (n *node) path(levels []string, create bool) *node {
	for _, l := range levels {
		var next *node
		switch l {
		case "+":
			if n.plus == nil && create {
				n.plus = &node{}
			}
			next = n.plus
		case "#":
			if n.hash == nil && create {
				n.hash = &node{}
			}
			next = n.hash
		default:
			next = n.children[l]
			if next == nil && create {
				if n.children == nil {
					n.children = make(map[string]*node)
				}
				next = &node{}
				n.children[l] = next
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// prune removes empty nodes along the filter's path.
func (n *node) prune(levels []string) {
	if len(levels) == 0 {
		return
	}
	l := levels[0]
	var child *node
	switch l {
	case "+":
		child = n.plus
	case "#":
		child = n.hash
	default:
		child = n.children[l]
	}
	if child == nil {
		return
	}
	child.prune(levels[1:])
	if child.empty() {
		switch l {
		case "+":
			n.plus = nil
		case "#":
			n.hash = nil
		default:
			delete(n.children, l)
		}
	}
}

// match appends to out every node whose subscriptions match topic.
func (n *node) match(topic string, out []*node) []*node {
	dollar := topic != "" && topic[0] == '$'
	return n.walk(topic, false, !dollar, out)
}

// walk visits n with rest the unconsumed part of the topic; done means the
// topic has no levels left; wild says whether wildcards may match here (not
// at the first level of a '$' topic).
func (n *node) walk(rest string, done, wild bool, out []*node) []*node {
	if n.hash != nil && wild {
		out = append(out, n.hash)
	}
	if done {
		return append(out, n)
	}
	level, after, found := strings.Cut(rest, "/")
	if c := n.children[level]; c != nil {
		out = c.walk(after, !found, true, out)
	}
	if n.plus != nil && wild {
		out = n.plus.walk(after, !found, true, out)
	}
	return out
}
