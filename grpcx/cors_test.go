package grpcx_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/grpcx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestCORS(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{CORS: &transport.CORS{AllowedOrigins: []string{"https://app.example"}, MaxAge: 60}}, pubsub.MemoryOptions{})
	do := func(method, origin, body string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+"/switchboard.pubsub.v1.PubSubService/Publish", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type,x-grpc-web")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res
	}
	res := do(http.MethodOptions, "https://app.example", "")
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Equal(t, "https://app.example", res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "X-Grpc-Web")
	require.Equal(t, "60", res.Header.Get("Access-Control-Max-Age"))

	res = do(http.MethodOptions, "https://evil.example", "")
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))

	res = do(http.MethodPost, "https://app.example", `{"topic":"a"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "https://app.example", res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status")

	res = do(http.MethodPost, "https://evil.example", `{"topic":"a"}`)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"), "the browser withholds the answer")
}
