package natsx

import (
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-go/switchboard/pubsub"
)

// NATS headers the Broker sets or reads.
const (
	// hdrHeader carries Message.Header, URL-query encoded: NATS headers are
	// MIME-like lines, which cannot carry every key and value faithfully.
	hdrHeader = "Sb-Header"
	// hdrMsgID is JetStream's de-duplication id: Message.ID, a space and
	// the subject, so that an ID counts per topic as everywhere in
	// Switchboard (a dead letter or a reply may repeat an ID on another
	// topic). A message from another NATS client without hdrID takes its
	// Nats-Msg-Id as ID.
	hdrMsgID = "Nats-Msg-Id"
	// hdrID carries Message.ID.
	hdrID = "Sb-Id"
	// Republish headers (stream, original subject, sequence, time).
	hdrSubject   = "Nats-Subject"
	hdrSequence  = "Nats-Sequence"
	hdrTimestamp = "Nats-Time-Stamp"
)

// toNATS builds the NATS message for m on subject.
func toNATS(subject string, m *pubsub.Message) *nats.Msg {
	nm := nats.NewMsg(subject)
	nm.Data = m.Data
	if nm.Data == nil {
		nm.Data = []byte{}
	}
	if m.ID != "" {
		nm.Header.Set(hdrID, m.ID)
		nm.Header.Set(hdrMsgID, m.ID+" "+subject)
	}
	if len(m.Header) > 0 {
		v := make(url.Values, len(m.Header))
		for k, val := range m.Header {
			v[k] = []string{val}
		}
		nm.Header.Set(hdrHeader, v.Encode())
	}
	return nm
}

// fromNATS decodes the topic-independent parts of a delivered message:
// ID, Header and Data. Headers set by other NATS clients (except
// JetStream's "Nats-" ones) become Header entries too.
func fromNATS(h nats.Header, data []byte) *pubsub.Message {
	m := &pubsub.Message{Data: data}
	if m.Data == nil {
		m.Data = []byte{}
	}
	for k, vs := range h {
		switch {
		case k == hdrID:
			if len(vs) > 0 {
				m.ID = vs[0]
			}
		case k == hdrMsgID:
		case k == hdrHeader:
			if len(vs) == 0 {
				continue
			}
			v, err := url.ParseQuery(vs[0])
			if err != nil {
				continue
			}
			for key, val := range v {
				if len(val) > 0 {
					setHeader(m, key, val[0])
				}
			}
		case strings.HasPrefix(k, "Nats-"):
		default:
			if len(vs) > 0 {
				setHeader(m, k, vs[0])
			}
		}
	}
	if m.ID == "" {
		m.ID = h.Get(hdrMsgID) // another NATS client's, or an older node's
	}
	return m
}

func setHeader(m *pubsub.Message, k, v string) {
	if m.Header == nil {
		m.Header = make(map[string]string)
	}
	m.Header[k] = v
}

// parseTime reads a republished message's timestamp.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Now()
	}
	return t
}
