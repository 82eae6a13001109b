package grpcx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// ResumeCursorKey is the response trailer (gRPC) or error metadata (Connect)
// carrying the cursor to resume from when the server ends a Subscribe
// stream: after a slow consumer overflow (ResourceExhausted), on shutdown
// or broker close (Unavailable). The same cursor is in the error message.
// Subscribe again with since set to it and nothing is lost while the
// broker's history reaches back.
const ResumeCursorKey = "sb-resume-cursor"

var errShuttingDown = fmt.Errorf("%w: server shutting down", transport.ErrUnavailable)

// errorCode maps an error to a connect code, following transport.Code.
func errorCode(err error) connect.Code {
	var ce *connect.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ce):
		return ce.Code()
	case errors.Is(err, transport.ErrUnauthenticated):
		return connect.CodeUnauthenticated
	case errors.Is(err, transport.ErrForbidden):
		return connect.CodePermissionDenied
	case errors.Is(err, transport.ErrTooLarge), errors.As(err, &mbe),
		errors.Is(err, transport.ErrLimit), errors.Is(err, pubsub.ErrLimit), errors.Is(err, pubsub.ErrSlowConsumer):
		return connect.CodeResourceExhausted
	case errors.Is(err, transport.ErrBadRequest), errors.Is(err, pubsub.ErrInvalidTopic),
		errors.Is(err, pubsub.ErrInvalidFilter), errors.Is(err, pubsub.ErrInvalidCursor):
		return connect.CodeInvalidArgument
	case errors.Is(err, transport.ErrNotFound):
		return connect.CodeNotFound
	case errors.Is(err, pubsub.ErrNotSupported):
		return connect.CodeUnimplemented
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled
	case errors.Is(err, transport.ErrUnavailable), errors.Is(err, pubsub.ErrClosed), errors.Is(err, pubsub.ErrUnavailable):
		return connect.CodeUnavailable
	}
	return connect.CodeInternal
}

// toError turns err into the *connect.Error a client sees. Internal errors
// are logged and reported without their text.
func (h *Handler) toError(err error) *connect.Error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	code := errorCode(err)
	if code == connect.CodeInternal {
		h.log.Error("grpcx: internal error", "err", err)
		return connect.NewError(code, errors.New("internal error"))
	}
	return connect.NewError(code, errors.New(oneLine(err.Error())))
}

// codeName is the lower-case gRPC code name carried in SessionResult.code
// and PublishFailure.code ("invalid_argument", …).
func codeName(c connect.Code) string {
	return c.String()
}

// oneLine keeps an error message on one line (errors.Join uses newlines).
func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", ": ")
}
