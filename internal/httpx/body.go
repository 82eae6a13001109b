package httpx

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// ReadBody reads r's body whole, at most max bytes (beyond it: a
// *http.MaxBytesError; max <= 0 means no bound) and within timeout from
// now (timeout <= 0 means no bound). The timeout is a read deadline on the
// connection (HTTP/1) or the stream (HTTP/2), set with
// http.ResponseController, so a client trickling its body is cut when it
// passes, however slowly the bytes come: the error then matches
// os.ErrDeadlineExceeded (see IsTimeout). Once the body is read the
// deadline is cleared, so the rest of the request (a stream that follows)
// has none; after an error it stays, so that net/http's own draining of
// the unread body after the handler cannot be trickled either. A
// ResponseWriter that cannot set deadlines (a test recorder) reads
// without one.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64, timeout time.Duration) ([]byte, error) {
	body := r.Body
	if max > 0 {
		body = http.MaxBytesReader(w, body, max)
	}
	var rc *http.ResponseController
	if timeout > 0 {
		rc = http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) != nil {
			rc = nil
		}
	}
	b, err := io.ReadAll(body)
	switch {
	case err == nil && rc != nil:
		_ = rc.SetReadDeadline(time.Time{})
	case IsTimeout(err) && r.ProtoMajor == 1:
		// The connection's read side is spent: close it after the answer.
		// (HTTP/2 cuts only the stream; "Connection: close" would shut the
		// whole connection down, other clients' streams included.)
		w.Header().Set("Connection", "close")
	}
	return b, err
}

// IsTimeout reports whether err is ReadBody's timeout; the caller answers
// 408 Request Timeout (ReadBody has set "Connection: close" on HTTP/1).
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
