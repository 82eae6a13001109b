package ws_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/ws"
)

func TestClientScript(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, contains string
		h                           http.Handler
	}{
		{"switchboard.mjs", "text/javascript; charset=utf-8", "export function connect(", ws.ClientScript()},
		{"switchboard.d.mts", "application/typescript; charset=utf-8", "export function connect(", ws.ClientTypes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			resp, err := http.Get(srv.URL + "/" + tc.name)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))
			require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
			require.Contains(t, string(body), tc.contains)
			etag := resp.Header.Get("ETag")
			require.Regexp(t, `^"[A-Za-z0-9_-]{24}"$`, etag)

			// Revalidation: the same ETag gets 304 without a body, another 200.
			for _, c := range []struct {
				inm  string
				want int
			}{{etag, http.StatusNotModified}, {`"other"`, http.StatusOK}, {"*", http.StatusNotModified}} {
				req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
				require.NoError(t, err)
				req.Header.Set("If-None-Match", c.inm)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				require.Equal(t, c.want, resp.StatusCode, "If-None-Match %s", c.inm)
				if c.want == http.StatusNotModified {
					require.Empty(t, b)
				} else {
					require.Equal(t, body, b)
				}
			}

			resp, err = http.Head(srv.URL)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, tc.contentType, resp.Header.Get("Content-Type"))

			resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("x"))
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
			require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
		})
	}
}
