// Package wire holds the encoding plumbing the transports share: the
// allocation-free JSON appenders for the message envelope, the payload rule
// (data for JSON, text for other UTF-8, data_b64 for the rest: AppendData
// and DecodeData, the one place it is decided), and the per-message
// encoding cache. Applications use transport.Envelope and
// transport.DecodeEnvelope instead.
package wire

import "errors"

// ErrBadRequest is transport.ErrBadRequest, defined here so the decoders
// can wrap it without importing transport.
var ErrBadRequest = errors.New("transport: bad request")
