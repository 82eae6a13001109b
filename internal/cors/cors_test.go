package cors_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/cors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCORS(t *testing.T) {
	c := &cors.Policy{AllowedOrigins: []string{"https://app.example"}, AllowCredentials: true, MaxAge: 60}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cors.Handle(c, w, r, "GET, POST") {
			return
		}
		w.WriteHeader(200)
	})
	req := httptest.NewRequest("OPTIONS", "/", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 204, rec.Code)
	require.Equal(t, "https://app.example", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", rec.Header().Get("Access-Control-Allow-Credentials"))
	require.Equal(t, "GET, POST", rec.Header().Get("Access-Control-Allow-Methods"))
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Last-Event-ID")

	req = httptest.NewRequest("OPTIONS", "/", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 403, rec.Code)

	req = httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Origin", "https://evil.example")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"), "no CORS grant for a foreign origin")

	var none *cors.Policy
	require.False(t, cors.Handle(none, httptest.NewRecorder(), req, "GET"), "a nil CORS does nothing")
}
