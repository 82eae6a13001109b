package longpoll

import (
	"io"
	"net/http"
	"strconv"

	"github.com/switchboard-go/switchboard/internal/wire"
)

// writeJSON streams the response body:
//
//	{"messages":[<envelope>,…],"cursor":"…","gap":false,"more":false}
//
// plus "history":false in the degraded mode, and "goaway":true on the
// answer to a poll the handler let go because it shuts down. The batch is cut after the
// last message that fits in budget bytes of envelopes (0: no bound; the
// first message always goes): the cursor is then that message's and more
// is true. Only one envelope at a time is held in memory.
func (r *result) writeJSON(w http.ResponseWriter, budget int64) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `{"messages":[`)
	pw := wire.PageWriter{W: w, Budget: budget}
	cursor, more := r.cursor, r.more
	for _, m := range r.messages {
		if !pw.Add(m) {
			if pw.Err() != nil {
				return // the client left
			}
			if r.history { // the degraded mode has no cursor: the rest is lost
				cursor = r.messages[pw.Count()-1].Cursor
			}
			more = true
			break
		}
	}
	b := append(make([]byte, 0, 128), `],"cursor":`...)
	b = wire.AppendJSONString(b, cursor)
	b = appendBool(b, "gap", r.gap)
	b = appendBool(b, "more", more)
	if !r.history {
		b = appendBool(b, "history", false)
	}
	if r.goaway {
		b = appendBool(b, "goaway", true)
	}
	_, _ = w.Write(append(b, "}\n"...))
}

func appendBool(dst []byte, name string, v bool) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return strconv.AppendBool(dst, v)
}
