package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/transport/jwtauth"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func aliceToken(t *testing.T, m jwt.SigningMethod, key any) string {
	s, err := jwt.NewWithClaims(m, jwtauth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Switchboard:      &jwtauth.Grants{Subscribe: []string{"user/alice/#"}, Publish: []string{"user/alice/#"}},
	}).SignedString(key)
	require.NoError(t, err)
	return s
}

// TestHubJWTSecret: with -jwt-key SECRET every request needs a token, and
// the token's filters bound what it reads.
func TestHubJWTSecret(t *testing.T) {
	const secret = "a secret of 16+ bytes"
	base := startHub(t, "-jwt-key", secret, "-mqtt-addr", "off")
	tok := aliceToken(t, jwt.SigningMethodHS256, []byte(secret))
	code, _ := get(t, base+"/topics/user/alice/inbox", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = get(t, base+"/topics/user/alice/inbox", tok)
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, base+"/topics/user/+/%23", tok)
	require.Equal(t, http.StatusForbidden, code)
	code, _ = get(t, base+"/events?topic=%23&access_token="+tok, "")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = get(t, base+"/healthz", "")
	require.Equal(t, http.StatusOK, code, "health needs no token")
}

// TestHubJWTPublicKey: -jwt-key FILE.pem verifies EdDSA tokens.
func TestHubJWTPublicKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
	base := startHub(t, "-jwt-key", file, "-mqtt-addr", "off")
	code, _ := get(t, base+"/topics/user/alice/inbox", aliceToken(t, jwt.SigningMethodEdDSA, priv))
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, base+"/topics/user/alice/inbox", aliceToken(t, jwt.SigningMethodHS256, []byte("any secret at all")))
	require.Equal(t, http.StatusUnauthorized, code, "an HS256 token against a public key")
}

func TestHubJWTBadKey(t *testing.T) {
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "off", "-jwt-key", "short"}, io.Discard, nil)
	require.ErrorContains(t, err, "at least 16 bytes")
}

// TestHubHealth: /healthz is 200; /readyz follows the broker: 200 while
// its connection is up, 503 naming why while the link to Mosquitto is
// cut, 200 again once it is back.
func TestHubHealth(t *testing.T) {
	base := startHub(t, "-mqtt-addr", "off")
	code, body := get(t, base+"/healthz", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, body = get(t, base+"/readyz", "")
	require.Equal(t, http.StatusOK, code, body)

	px := testenv.NewProxy(t, testenv.Mosquitto(t))
	base = startHub(t, "-mqtt-addr", "off", "-broker", "mqtt://"+px.Addr())
	code, body = get(t, base+"/readyz", "")
	require.Equal(t, http.StatusOK, code, body)
	px.Cut()
	require.Eventually(t, func() bool {
		code, body = get(t, base+"/readyz", "")
		return code != http.StatusOK
	}, 15*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.True(t, strings.HasPrefix(body, "not ready: pubsub: unavailable: mqttx: not connected"), body)
	code, _ = get(t, base+"/healthz", "")
	require.Equal(t, http.StatusOK, code, "alive while not ready")
	px.Restore()
	require.Eventually(t, func() bool {
		code, _ = get(t, base+"/readyz", "")
		return code == http.StatusOK
	}, 15*time.Second, 10*time.Millisecond)
}

// TestHubPublishRate: -publish-rate answers publishes beyond the burst
// with 429 and Retry-After.
func TestHubPublishRate(t *testing.T) {
	base := startHub(t, "-publish-rate", "0.2", "-mqtt-addr", "off") // a burst of 1, then one every 5 s
	post := func() *http.Response {
		resp, err := http.Post(base+"/topics/news", "text/plain", strings.NewReader("x"))
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	require.Equal(t, http.StatusOK, post().StatusCode)
	resp := post()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
}

// TestHubPublishRateGraphQL: -publish-rate bounds publishes through the
// GraphQL mutation too, not only those of the other transports.
func TestHubPublishRateGraphQL(t *testing.T) {
	base := startHub(t, "-publish-rate", "0.2", "-mqtt-addr", "off") // a burst of 1, then one every 5 s
	mutate := func() string {
		resp, err := http.Post(base+"/graphql", "application/json",
			strings.NewReader(`{"query":"mutation { publish(topic: \"news\", data: \"x\") { topic } }"}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	require.Equal(t, `{"data":{"publish":{"topic":"news"}}}`, mutate())
	require.Contains(t, mutate(), `"code":"rate_limited"`)
}
