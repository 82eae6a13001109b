package wire

import (
	"io"

	"github.com/switchboard-go/switchboard/pubsub"
)

// PageWriter streams a JSON array's worth of envelopes to W, comma
// separated, without ever holding more than one encoded envelope: the
// history answers (REST, long poll) write their opening bracket, Add each
// message until it refuses one, then their closing fields, so that a page
// of a thousand large messages never exists whole in memory.
//
// Budget bounds the envelope bytes of the page; 0 or less means no bound.
// The first message is always written, however large, so that a client
// paging with the returned cursor always makes progress.
type PageWriter struct {
	W      io.Writer
	Budget int64

	buf   []byte
	n     int64 // envelope bytes written (commas included)
	count int
	err   error
}

// Add writes m's envelope unless it would take the page over Budget (and
// it is not the first) or an earlier write failed; false means m was not
// written and the page is complete.
func (p *PageWriter) Add(m *pubsub.Message) bool {
	if p.err != nil {
		return false
	}
	p.buf = p.buf[:0]
	if p.count > 0 {
		p.buf = append(p.buf, ',')
	}
	p.buf = AppendEnvelope(p.buf, m)
	if p.count > 0 && p.Budget > 0 && p.n+int64(len(p.buf)) > p.Budget {
		return false
	}
	if _, err := p.W.Write(p.buf); err != nil {
		p.err = err
		return false
	}
	p.n += int64(len(p.buf))
	p.count++
	return true
}

// Count returns the number of envelopes written.
func (p *PageWriter) Count() int { return p.count }

// Bytes returns the envelope bytes written (commas included).
func (p *PageWriter) Bytes() int64 { return p.n }

// Err returns the first write error.
func (p *PageWriter) Err() error { return p.err }
