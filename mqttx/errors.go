package mqttx

import (
	"errors"
	"fmt"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Errors returned by this package, in addition to the pubsub errors
// (pubsub.ErrClosed, pubsub.ErrInvalidTopic, pubsub.ErrInvalidFilter,
// pubsub.ErrNotSupported). Match them with errors.Is.
var (
	// ErrDisconnected: Broker.Publish or Broker.Subscribe was called while
	// the connection to the MQTT server was down and
	// Options.WaitForConnection is false, or the connection failed under a
	// Publish (a failed write, no acknowledgement within PacketTimeout).
	// It also matches transport.ErrUnavailable, so the transports answer
	// HTTP 503 "unavailable" (gRPC Unavailable) and the client retries.
	ErrDisconnected error = unavailableError{errors.New("mqttx: disconnected from the MQTT server")}
	// ErrSessionLost ends every subscription of a Broker that reconnected to
	// a server which no longer had its session: messages published while it
	// was disconnected may be missing, so the subscriber must resynchronise.
	ErrSessionLost = errors.New("mqttx: MQTT session lost on reconnect; messages may have been missed")
	// ErrRefused: the MQTT server refused a publish or subscribe. The error
	// is a *ReasonCodeError carrying the MQTT reason code.
	ErrRefused = errors.New("mqttx: refused by the MQTT server")
)

// unavailableError is a sentinel of this package that also matches
// transport.ErrUnavailable.
type unavailableError struct{ error }

func (e unavailableError) Unwrap() []error { return []error{e.error, transport.ErrUnavailable} }

// ReasonCodeError is a refusal from the MQTT server (a PUBACK, PUBREC or
// SUBACK reason code of 0x80 or more). errors.Is(err, ErrRefused) is true.
type ReasonCodeError struct {
	// Op is "publish" or "subscribe".
	Op string
	// Topic is the topic name or filter concerned.
	Topic string
	// Code is the MQTT 5 reason code, such as 0x87 (not authorized).
	Code byte
	// Reason is the server's reason string, if it sent one.
	Reason string
}

func (e *ReasonCodeError) Error() string {
	s := fmt.Sprintf("mqttx: %s %q refused by the MQTT server with reason code 0x%02X", e.Op, e.Topic, e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes errors.Is(err, ErrRefused) true, and also matches
// pubsub.ErrInvalidFilter for 0x8F (topic filter invalid),
// pubsub.ErrInvalidTopic for 0x90 (topic name invalid),
// pubsub.ErrNotSupported for 0x9A, 0x9B, 0x9E, 0xA1 and 0xA2 (a feature the
// server lacks), and for the transports' error mapping
// transport.ErrForbidden for 0x87 (not authorized), transport.ErrTooLarge
// for 0x95 (packet too large) and transport.ErrLimit for 0x97 (quota
// exceeded).
func (e *ReasonCodeError) Is(target error) bool {
	switch target {
	case ErrRefused:
		return true
	case transport.ErrForbidden:
		return e.Code == 0x87
	case transport.ErrTooLarge:
		return e.Code == 0x95
	case transport.ErrLimit:
		return e.Code == 0x97
	case pubsub.ErrInvalidFilter:
		return e.Code == 0x8F
	case pubsub.ErrInvalidTopic:
		return e.Code == 0x90
	case pubsub.ErrNotSupported:
		return e.Code == 0x9A || e.Code == 0x9B || e.Code == 0x9E || e.Code == 0xA1 || e.Code == 0xA2
	}
	return false
}
