package graphqlsub

import (
	"errors"
	"fmt"

	"github.com/switchboard-go/switchboard/internal/clip"
)

// Operation types, as they appear in a GraphQL document.
const (
	opQuery        = "query"
	opMutation     = "mutation"
	opSubscription = "subscription"
)

// errDocument is returned by operationType when the document cannot be
// classified; the Handler then lets the Executor report the precise error.
var errDocument = errors.New("graphqlsub: cannot determine the operation")

// operationType returns the type of the operation a request selects:
// "query", "mutation" or "subscription". It reads just enough of the
// document (a GraphQL lexer and a bracket counter) to find the operation
// definitions; it is not a validator. It never panics.
func operationType(doc, operationName string) (string, error) {
	lx := lexer{src: doc}
	var found string
	count := 0
	for {
		t := lx.next()
		switch {
		case t.kind == tokEOF:
			if operationName == "" && count == 1 {
				return found, nil
			}
			if operationName == "" && count > 1 {
				return "", fmt.Errorf("%w: several operations and no operationName", errDocument)
			}
			if found != "" {
				return found, nil
			}
			return "", fmt.Errorf("%w: no operation %q", errDocument, clip.String(operationName))
		case t.kind == tokError:
			return "", fmt.Errorf("%w: %s", errDocument, t.text)
		case t.kind == tokPunct && t.text == "{":
			count++
			if operationName == "" {
				found = opQuery
			}
			if err := lx.skipBlock(); err != nil {
				return "", err
			}
		case t.kind == tokName && (t.text == opQuery || t.text == opMutation || t.text == opSubscription):
			count++
			kind := t.text
			n := lx.peek()
			if n.kind == tokName && n.text == operationName && operationName != "" {
				found = kind
			} else if operationName == "" {
				found = kind
			}
			if err := lx.skipDefinition(); err != nil {
				return "", err
			}
		case t.kind == tokName && t.text == "fragment":
			if err := lx.skipDefinition(); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("%w: unexpected %q", errDocument, clip.String(t.text))
		}
	}
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokError
	tokName
	tokPunct
	tokString
	tokNumber
)

type token struct {
	kind tokKind
	text string
}

type lexer struct {
	src string
	pos int
}

// peek returns the next token without consuming it.
func (l *lexer) peek() token {
	p := l.pos
	t := l.next()
	l.pos = p
	return t
}

// skipDefinition skips the rest of a definition: everything up to the first
// "{" outside parentheses and brackets, then that block.
func (l *lexer) skipDefinition() error {
	depth := 0 // ( and [
	for {
		t, err := l.nextInside()
		if err != nil {
			return err
		}
		switch {
		case t.kind != tokPunct:
		case t.text == "(" || t.text == "[":
			depth++
		case t.text == ")" || t.text == "]":
			depth--
			if depth < 0 {
				return fmt.Errorf("%w: unbalanced %q", errDocument, t.text)
			}
		case t.text == "{" && depth == 0:
			return l.skipBlock()
		}
	}
}

// skipBlock skips to the "}" closing a "{" just consumed.
func (l *lexer) skipBlock() error {
	depth := 1
	for {
		t, err := l.nextInside()
		if err != nil {
			return err
		}
		switch {
		case t.kind != tokPunct:
		case t.text == "{":
			depth++
		case t.text == "}":
			depth--
			if depth == 0 {
				return nil
			}
		}
	}
}

// nextInside returns the next token of a definition that is not finished:
// the end of the document and a lexing error are errors there.
func (l *lexer) nextInside() (token, error) {
	t := l.next()
	switch t.kind {
	case tokEOF:
		return t, fmt.Errorf("%w: unexpected end of document", errDocument)
	case tokError:
		return t, fmt.Errorf("%w: %s", errDocument, t.text)
	}
	return t, nil
}

// next returns the next token, skipping ignored tokens (whitespace, commas,
// comments, byte order marks).
func (l *lexer) next() token {
	s := l.src
	for l.pos < len(s) {
		c := s[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			l.pos++
		case c == '#':
			for l.pos < len(s) && s[l.pos] != '\n' && s[l.pos] != '\r' {
				l.pos++
			}
		case c == 0xEF && len(s)-l.pos >= 3 && s[l.pos+1] == 0xBB && s[l.pos+2] == 0xBF:
			l.pos += 3
		default:
			return l.token()
		}
	}
	return token{kind: tokEOF}
}

func (l *lexer) token() token {
	s, start := l.src, l.pos
	c := s[start]
	switch {
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		l.pos++
		for l.pos < len(s) && isNameChar(s[l.pos]) {
			l.pos++
		}
		return token{tokName, s[start:l.pos]}
	case c == '-' || c >= '0' && c <= '9':
		l.pos++
		for l.pos < len(s) && (isNameChar(s[l.pos]) || s[l.pos] == '.' || s[l.pos] == '+' || s[l.pos] == '-') {
			l.pos++
		}
		return token{tokNumber, s[start:l.pos]}
	case c == '.':
		if len(s)-start >= 3 && s[start+1] == '.' && s[start+2] == '.' {
			l.pos += 3
			return token{tokPunct, "..."}
		}
		return token{tokError, "unexpected '.'"}
	case c == '"':
		return l.str()
	case c == '!' || c == '$' || c == '&' || c == '(' || c == ')' || c == ':' || c == '=' || c == '@' ||
		c == '[' || c == ']' || c == '{' || c == '|' || c == '}':
		l.pos++
		return token{tokPunct, s[start:l.pos]}
	}
	return token{tokError, fmt.Sprintf("unexpected character %q", c)}
}

// str lexes a string or a block string starting at a '"'.
func (l *lexer) str() token {
	s, start := l.src, l.pos
	if len(s)-start >= 3 && s[start+1] == '"' && s[start+2] == '"' {
		l.pos += 3
		for l.pos < len(s) {
			switch {
			case s[l.pos] == '\\' && len(s)-l.pos >= 4 && s[l.pos+1:l.pos+4] == `"""`:
				l.pos += 4
			case s[l.pos] == '"' && len(s)-l.pos >= 3 && s[l.pos+1] == '"' && s[l.pos+2] == '"':
				l.pos += 3
				return token{tokString, s[start:l.pos]}
			default:
				l.pos++
			}
		}
		return token{tokError, "unterminated block string"}
	}
	l.pos++
	for l.pos < len(s) {
		switch s[l.pos] {
		case '\\':
			l.pos += 2
		case '"':
			l.pos++
			return token{tokString, s[start:l.pos]}
		case '\n', '\r':
			return token{tokError, "unterminated string"}
		default:
			l.pos++
		}
	}
	l.pos = len(s)
	return token{tokError, "unterminated string"}
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
