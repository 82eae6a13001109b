package longpoll

import (
	"encoding/json"

	"github.com/switchboard-go/switchboard/internal/wire"
)

// appendJSON writes the response body:
//
//	{"messages":[<envelope>,…],"cursor":"…","gap":false,"more":false}
//
// plus "history":false in the degraded mode.
func (r *result) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"messages":[`...)
	for i, m := range r.messages {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = wire.AppendEnvelope(dst, m)
	}
	dst = append(dst, `],"cursor":`...)
	c, _ := json.Marshal(r.cursor)
	dst = append(dst, c...)
	dst = appendBool(dst, "gap", r.gap)
	dst = appendBool(dst, "more", r.more)
	if !r.history {
		dst = appendBool(dst, "history", false)
	}
	return append(dst, "}\n"...)
}

func appendBool(dst []byte, name string, v bool) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
