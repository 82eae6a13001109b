package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHubServesClient: the page imports /switchboard.mjs, which the hub
// serves as JavaScript, and the page's CSP allows it (script-src 'self')
// along with the inline module (by hash).
func TestHubServesClient(t *testing.T) {
	base := startHub(t)
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, string(page), `import { connect } from "/switchboard.mjs";`)
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self' 'sha256-")
	script, err := inlineBlock(page, "script")
	require.NoError(t, err)
	require.Contains(t, csp, hashSource(script))
	require.True(t, strings.HasPrefix(strings.TrimSpace(string(script)), "//"), "the block starts after <script type=\"module\">")

	for path, ctype := range map[string]string{
		"/switchboard.mjs":   "text/javascript; charset=utf-8",
		"/switchboard.d.mts": "application/typescript; charset=utf-8",
	} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, ctype, resp.Header.Get("Content-Type"), path)
		require.NotEmpty(t, resp.Header.Get("ETag"), path)
		require.Contains(t, string(body), "export function connect(", path)
	}
}
