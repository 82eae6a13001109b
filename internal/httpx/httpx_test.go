package httpx_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMethodNotAllowed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		preflight bool
		allow     string
	}{
		{"without CORS", false, "GET, HEAD"},
		{"with CORS", true, "GET, HEAD, OPTIONS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpx.MethodNotAllowed(rec, httptest.NewRequest(http.MethodDelete, "/", nil), "GET, HEAD", tc.preflight)
			require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
			require.Equal(t, tc.allow, rec.Header().Get("Allow"))
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body struct {
				Error struct{ Code, Message string }
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			require.Equal(t, transport.CodeMethodNotAllowed, body.Error.Code, "the literal in httpx is transport's code")
			require.Equal(t, "method DELETE not allowed: use GET, HEAD", body.Error.Message)
		})
	}
}
