package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/jwtauth"
)

func aliceClaims() jwtauth.Claims {
	return jwtauth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Switchboard:      &jwtauth.Grants{Subscribe: []string{"user/alice/#"}, Publish: []string{"user/alice/out"}},
	}
}

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func bearer(tok string) transport.Credentials {
	return transport.Credentials{Transport: "sse", Token: tok}
}

// TestAlgorithms: each key type verifies its own algorithms, and the
// identity carries the subject, the string claims and the scope.
func TestAlgorithms(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	secret := []byte("s3cret")
	for name, tc := range map[string]struct {
		verify any
		method jwt.SigningMethod
		sign   any
	}{
		"HS256": {secret, jwt.SigningMethodHS256, secret},
		"HS512": {secret, jwt.SigningMethodHS512, secret},
		"RS256": {&rsaKey.PublicKey, jwt.SigningMethodRS256, rsaKey},
		"PS256": {&rsaKey.PublicKey, jwt.SigningMethodPS256, rsaKey},
		"EdDSA": {edPub, jwt.SigningMethodEdDSA, edKey},
		"ES256": {&ecKey.PublicKey, jwt.SigningMethodES256, ecKey},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := jwtauth.New(&jwtauth.Options{Key: tc.verify})
			require.NoError(t, err)
			c := aliceClaims()
			c.Issuer = "hub"
			id, err := a.Authenticate(context.Background(), bearer(sign(t, tc.method, tc.sign, c)))
			require.NoError(t, err)
			require.Equal(t, "alice", id.Subject)
			require.Equal(t, "hub", id.Claims["iss"])
			require.Equal(t, []string{"user/alice/#"}, id.Scope.Subscribe)
			require.Equal(t, []string{"user/alice/out"}, id.Scope.Publish)
		})
	}
}

// TestRefused: what a verifier must refuse, each as unauthenticated.
func TestRefused(t *testing.T) {
	secret := []byte("s3cret")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs, err := jwtauth.New(&jwtauth.Options{Key: secret})
	require.NoError(t, err)
	rs, err := jwtauth.New(&jwtauth.Options{Key: &rsaKey.PublicKey})
	require.NoError(t, err)

	expired := aliceClaims()
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	noExp := aliceClaims()
	noExp.ExpiresAt = nil
	notYet := aliceClaims()
	notYet.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, aliceClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	badGrants := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "switchboard": map[string]any{"subscribe": "user/alice/#"}}

	for name, tc := range map[string]struct {
		a   *jwtauth.Authenticator
		tok string
	}{
		"empty":         {hs, ""},
		"garbage":       {hs, "not.a.token"},
		"wrong secret":  {hs, sign(t, jwt.SigningMethodHS256, []byte("other"), aliceClaims())},
		"expired":       {hs, sign(t, jwt.SigningMethodHS256, secret, expired)},
		"no exp":        {hs, sign(t, jwt.SigningMethodHS256, secret, noExp)},
		"not yet valid": {hs, sign(t, jwt.SigningMethodHS256, secret, notYet)},
		"alg none":      {hs, none},
		"RS key, HS token signed with the public key": {rs, sign(t, jwt.SigningMethodHS256, pubPEM, aliceClaims())},
		"HS key, RS token":                            {hs, sign(t, jwt.SigningMethodRS256, rsaKey, aliceClaims())},
		"grants not lists":                            {hs, sign(t, jwt.SigningMethodHS256, secret, badGrants)},
	} {
		t.Run(name, func(t *testing.T) {
			id, err := tc.a.Authenticate(context.Background(), bearer(tc.tok))
			require.Nil(t, id)
			require.ErrorIs(t, err, transport.ErrUnauthenticated)
			if tc.tok == "" {
				require.ErrorIs(t, err, jwtauth.ErrNoToken)
			} else {
				require.ErrorIs(t, err, jwtauth.ErrInvalidToken)
			}
		})
	}
}

// TestOptions: expiry, issuer and audience as configured.
func TestOptions(t *testing.T) {
	secret := []byte("s3cret")
	a, err := jwtauth.New(&jwtauth.Options{Key: secret, AllowNoExpiry: true, Issuer: "hub", Audience: "switchboard"})
	require.NoError(t, err)
	c := aliceClaims()
	c.ExpiresAt = nil
	c.Issuer, c.Audience = "hub", jwt.ClaimStrings{"switchboard"}
	_, err = a.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodHS256, secret, c)))
	require.NoError(t, err)
	c.Issuer = "elsewhere"
	_, err = a.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodHS256, secret, c)))
	require.ErrorIs(t, err, jwtauth.ErrInvalidToken)
	c.Issuer, c.Audience = "hub", jwt.ClaimStrings{"other"}
	_, err = a.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodHS256, secret, c)))
	require.ErrorIs(t, err, jwtauth.ErrInvalidToken)

	_, err = jwtauth.New(nil)
	require.ErrorIs(t, err, jwtauth.ErrKey)
	_, err = jwtauth.New(&jwtauth.Options{Key: "a string is not a key"})
	require.ErrorIs(t, err, jwtauth.ErrKey)
	_, err = jwtauth.New(&jwtauth.Options{Keyfunc: func(*jwt.Token) (any, error) { return secret, nil }})
	require.ErrorIs(t, err, jwtauth.ErrKey, "Keyfunc without Algorithms")
	kf, err := jwtauth.New(&jwtauth.Options{Keyfunc: func(*jwt.Token) (any, error) { return secret, nil }, Algorithms: []string{"HS256"}})
	require.NoError(t, err)
	_, err = kf.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodHS256, secret, aliceClaims())))
	require.NoError(t, err)
}

// TestTokenSources: the header's token, a cookie, the MQTT password; a
// token without the claim has an empty scope.
func TestTokenSources(t *testing.T) {
	secret := []byte("s3cret")
	a, err := jwtauth.New(&jwtauth.Options{Key: secret})
	require.NoError(t, err)
	tok := sign(t, jwt.SigningMethodHS256, secret, aliceClaims())
	ctx := context.Background()

	r, _ := http.NewRequest("GET", "http://x/events?access_token="+tok, nil)
	id, err := a.Authenticate(ctx, transport.RequestCredentials(r, "sse"))
	require.NoError(t, err)
	require.Equal(t, "alice", id.Subject)

	r, _ = http.NewRequest("GET", "http://x/events", nil)
	r.AddCookie(&http.Cookie{Name: jwtauth.DefaultCookie, Value: tok})
	id, err = a.Authenticate(ctx, transport.RequestCredentials(r, "sse"))
	require.NoError(t, err)
	require.Equal(t, "alice", id.Subject)

	noCookie, err := jwtauth.New(&jwtauth.Options{Key: secret, Cookie: "-"})
	require.NoError(t, err)
	_, err = noCookie.Authenticate(ctx, transport.RequestCredentials(r, "sse"))
	require.ErrorIs(t, err, jwtauth.ErrNoToken)

	id, err = a.Authenticate(ctx, transport.Credentials{Transport: "mqtt", Username: "alice", Password: tok})
	require.NoError(t, err)
	require.Equal(t, "alice", id.Subject)
	_, err = a.Authenticate(ctx, transport.Credentials{Transport: "ws", Password: tok})
	require.ErrorIs(t, err, jwtauth.ErrNoToken, "only MQTT reads the password")

	bare := sign(t, jwt.SigningMethodHS256, secret, jwt.RegisteredClaims{Subject: "bob", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))})
	id, err = a.Authenticate(ctx, bearer(bare))
	require.NoError(t, err)
	require.NotNil(t, id.Scope)
	require.ErrorIs(t, a.Auth().Check(ctx, id, transport.ActionSubscribe, "user/bob/inbox"), transport.ErrForbidden)
}

func TestParseKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pkix1, err := x509.MarshalPKIXPublicKey(edPub)
	require.NoError(t, err)
	k, err := jwtauth.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix1}))
	require.NoError(t, err)
	require.Equal(t, edPub, k)
	k, err = jwtauth.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}))
	require.NoError(t, err)
	require.True(t, rsaKey.PublicKey.Equal(k))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hub"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, edPub, crypto.Signer(edKey))
	require.NoError(t, err)
	k, err = jwtauth.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	require.NoError(t, err)
	require.Equal(t, edPub, k)

	for _, bad := range [][]byte{nil, []byte("secret"),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
	} {
		_, err := jwtauth.ParseKey(bad)
		require.ErrorIs(t, err, jwtauth.ErrKey)
	}
}
