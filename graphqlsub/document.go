package graphqlsub

import (
	"fmt"

	"github.com/switchboard-go/switchboard/internal/clip"
)

// document is what the cost analysis needs of a GraphQL executable
// document: the selection sets of its operations and fragments.
type document struct {
	ops       []operationDef
	fragments map[string][]selection
}

type operationDef struct {
	name     string
	defaults map[string]string // variable → default value, as written
	sel      []selection
}

// selection is a field (field set), a fragment spread (spread set) or an
// inline fragment (neither).
type selection struct {
	field  string
	spread string
	args   map[string]string // argument → scalar literal or "$variable"
	sel    []selection
}

// maxNesting bounds the nesting of selection sets and values the parser
// follows, so that a hostile document cannot exhaust the stack.
const maxNesting = 256

type docParser struct {
	lx    lexer
	depth int
}

// parseDocument reads an executable GraphQL document. It is a parser, not a
// validator: names are not checked against any schema.
func parseDocument(src string) (*document, error) {
	p := &docParser{lx: lexer{src: src}}
	d := &document{fragments: map[string][]selection{}}
	for {
		t := p.lx.next()
		switch {
		case t.kind == tokEOF:
			return d, nil
		case t.kind == tokPunct && t.text == "{":
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			d.ops = append(d.ops, operationDef{sel: sel})
		case t.kind == tokName && (t.text == opQuery || t.text == opMutation || t.text == opSubscription):
			op, err := p.operation()
			if err != nil {
				return nil, err
			}
			d.ops = append(d.ops, op)
		case t.kind == tokName && t.text == "fragment":
			name, err := p.expectName()
			if err != nil {
				return nil, err
			}
			if err := p.fragmentHead(); err != nil {
				return nil, err
			}
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			d.fragments[name] = sel
		default:
			return nil, p.unexpected(t)
		}
	}
}

// operation reads the rest of an operation definition after its type.
func (p *docParser) operation() (operationDef, error) {
	op := operationDef{defaults: map[string]string{}}
	t := p.next()
	if t.kind == tokName {
		op.name = t.text
		t = p.next()
	}
	if t.kind == tokPunct && t.text == "(" {
		if err := p.variableDefinitions(op.defaults); err != nil {
			return op, err
		}
		t = p.next()
	}
	for t.kind == tokPunct && t.text == "@" {
		if err := p.directive(); err != nil {
			return op, err
		}
		t = p.next()
	}
	if t.kind != tokPunct || t.text != "{" {
		return op, p.unexpected(t)
	}
	var err error
	op.sel, err = p.selectionSet()
	return op, err
}

// variableDefinitions reads "$name: Type = default @dir, …)" after "(".
func (p *docParser) variableDefinitions(defaults map[string]string) error {
	for {
		t := p.next()
		if t.kind == tokPunct && t.text == ")" {
			return nil
		}
		if t.kind != tokPunct || t.text != "$" {
			return p.unexpected(t)
		}
		name, err := p.expectName()
		if err != nil {
			return err
		}
		if err := p.expect(":"); err != nil {
			return err
		}
		// The type: names, brackets and bangs, up to "=", "@", "$" or ")".
		for {
			n := p.lx.peek()
			if n.kind == tokPunct && (n.text == "=" || n.text == "@" || n.text == "$" || n.text == ")") {
				break
			}
			if t := p.next(); t.kind != tokName && (t.kind != tokPunct || (t.text != "[" && t.text != "]" && t.text != "!")) {
				return p.unexpected(t)
			}
		}
		if n := p.lx.peek(); n.kind == tokPunct && n.text == "=" {
			p.lx.next()
			v, err := p.value()
			if err != nil {
				return err
			}
			defaults[name] = v
		}
		for n := p.lx.peek(); n.kind == tokPunct && n.text == "@"; n = p.lx.peek() {
			p.lx.next()
			if err := p.directive(); err != nil {
				return err
			}
		}
	}
}

// selectionSet reads selections up to the "}" closing a "{" just read.
func (p *docParser) selectionSet() ([]selection, error) {
	if p.depth++; p.depth > maxNesting {
		return nil, fmt.Errorf("%w: nested more than %d levels", errCost, maxNesting)
	}
	defer func() { p.depth-- }()
	var out []selection
	for {
		t := p.next()
		switch {
		case t.kind == tokPunct && t.text == "}":
			if len(out) == 0 {
				return nil, fmt.Errorf("%w: empty selection set", errCost)
			}
			return out, nil
		case t.kind == tokPunct && t.text == "...":
			s, err := p.fragmentSelection()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case t.kind == tokName:
			s, err := p.field(t.text)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		default:
			return nil, p.unexpected(t)
		}
	}
}

// field reads the rest of a field after its first name (an alias or the
// name).
func (p *docParser) field(name string) (selection, error) {
	s := selection{field: name}
	if n := p.lx.peek(); n.kind == tokPunct && n.text == ":" {
		p.lx.next()
		var err error
		if s.field, err = p.expectName(); err != nil {
			return s, err
		}
	}
	if n := p.lx.peek(); n.kind == tokPunct && n.text == "(" {
		p.lx.next()
		args, err := p.arguments()
		if err != nil {
			return s, err
		}
		s.args = args
	}
	for n := p.lx.peek(); n.kind == tokPunct && n.text == "@"; n = p.lx.peek() {
		p.lx.next()
		if err := p.directive(); err != nil {
			return s, err
		}
	}
	if n := p.lx.peek(); n.kind == tokPunct && n.text == "{" {
		p.lx.next()
		var err error
		s.sel, err = p.selectionSet()
		return s, err
	}
	return s, nil
}

// fragmentSelection reads a fragment spread or an inline fragment after
// "...".
func (p *docParser) fragmentSelection() (selection, error) {
	var s selection
	n := p.lx.peek()
	if n.kind == tokName && n.text != "on" {
		p.lx.next()
		s.spread = n.text
	} else if n.kind == tokName { // "on Type"
		p.lx.next()
		if _, err := p.expectName(); err != nil {
			return s, err
		}
	}
	for n := p.lx.peek(); n.kind == tokPunct && n.text == "@"; n = p.lx.peek() {
		p.lx.next()
		if err := p.directive(); err != nil {
			return s, err
		}
	}
	if s.spread != "" {
		return s, nil
	}
	if err := p.expect("{"); err != nil {
		return s, err
	}
	var err error
	s.sel, err = p.selectionSet()
	return s, err
}

// directive reads a directive after "@".
func (p *docParser) directive() error {
	if _, err := p.expectName(); err != nil {
		return err
	}
	if n := p.lx.peek(); n.kind == tokPunct && n.text == "(" {
		p.lx.next()
		_, err := p.arguments()
		return err
	}
	return nil
}

// arguments reads "name: value, …)" after "(".
func (p *docParser) arguments() (map[string]string, error) {
	args := map[string]string{}
	for {
		t := p.next()
		if t.kind == tokPunct && t.text == ")" {
			return args, nil
		}
		if t.kind != tokName {
			return nil, p.unexpected(t)
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		args[t.text] = v
	}
}

// value reads a value and returns its text when it is a scalar or a
// variable ("$name"); lists and objects are read and returned as "".
func (p *docParser) value() (string, error) {
	t := p.next()
	switch {
	case t.kind == tokName || t.kind == tokNumber || t.kind == tokString:
		return t.text, nil
	case t.kind == tokPunct && t.text == "$":
		name, err := p.expectName()
		return "$" + name, err
	case t.kind == tokPunct && (t.text == "[" || t.text == "{"):
		if p.depth++; p.depth > maxNesting {
			return "", fmt.Errorf("%w: nested more than %d levels", errCost, maxNesting)
		}
		defer func() { p.depth-- }()
		end := map[string]string{"[": "]", "{": "}"}[t.text]
		for {
			n := p.lx.peek()
			if n.kind == tokPunct && n.text == end {
				p.lx.next()
				return "", nil
			}
			if t.text == "{" {
				if _, err := p.expectName(); err != nil {
					return "", err
				}
				if err := p.expect(":"); err != nil {
					return "", err
				}
			}
			if _, err := p.value(); err != nil {
				return "", err
			}
		}
	}
	return "", p.unexpected(t)
}

// fragmentHead reads "on Type @dir… {" after a fragment's name.
func (p *docParser) fragmentHead() error {
	if t := p.next(); t.kind != tokName || t.text != "on" {
		return p.unexpected(t)
	}
	if _, err := p.expectName(); err != nil {
		return err
	}
	for n := p.lx.peek(); n.kind == tokPunct && n.text == "@"; n = p.lx.peek() {
		p.lx.next()
		if err := p.directive(); err != nil {
			return err
		}
	}
	return p.expect("{")
}

func (p *docParser) next() token { return p.lx.next() }

func (p *docParser) expect(punct string) error {
	if t := p.next(); t.kind != tokPunct || t.text != punct {
		return p.unexpected(t)
	}
	return nil
}

func (p *docParser) expectName() (string, error) {
	t := p.next()
	if t.kind != tokName {
		return "", p.unexpected(t)
	}
	return t.text, nil
}

func (p *docParser) unexpected(t token) error {
	switch t.kind {
	case tokEOF:
		return fmt.Errorf("%w: unexpected end of document", errCost)
	case tokError:
		return fmt.Errorf("%w: %s", errCost, t.text)
	}
	return fmt.Errorf("%w: unexpected %q", errCost, clip.String(t.text))
}
