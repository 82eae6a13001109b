package transport

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// LimitError refuses an operation or a connection because a rate limit was
// reached; errors.Is(err, ErrLimit) is true. Transports answer it as a
// limit, never as a refusal of access: HTTP 429 with a Retry-After header
// of RetryAfter rounded up to whole seconds, a WebSocket "rate_limited"
// error frame (close 4429 when it refuses the connection), gRPC
// ResourceExhausted, MQTT reason 0x97 (quota exceeded). Auth hooks (or the
// transport/ratelimit package) return it.
type LimitError struct {
	// What names the limit ("publish rate", "connection attempts").
	What string
	// RetryAfter is when trying again may succeed; 0 when unknown.
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	if e.RetryAfter <= 0 {
		return fmt.Sprintf("%v: %s", ErrLimit, e.What)
	}
	return fmt.Sprintf("%v: %s, retry after %v", ErrLimit, e.What, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// RetryAfter returns the wait a *LimitError in err's chain asks for, and
// whether there is one.
func RetryAfter(err error) (time.Duration, bool) {
	var le *LimitError
	if errors.As(err, &le) && le.RetryAfter > 0 {
		return le.RetryAfter, true
	}
	return 0, false
}

// retryAfterSeconds renders d for a Retry-After header: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}
