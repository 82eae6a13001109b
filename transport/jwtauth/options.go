package jwtauth

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClaimName is the claim listing the filters a token may use.
const ClaimName = "switchboard"

// DefaultCookie is the cookie a token is read from when the request has
// none in its Authorization header or query.
const DefaultCookie = "switchboard_token"

// Options configure an Authenticator.
type Options struct {
	// Key verifies signatures: a []byte HMAC secret, an *rsa.PublicKey, an
	// ed25519.PublicKey or an *ecdsa.PublicKey (see ParseKey). Its type
	// fixes the algorithms accepted. Required unless Keyfunc is set.
	Key any
	// Keyfunc, when set, picks the key per token (key rotation, JWKS);
	// Algorithms must then list the accepted algorithms.
	Keyfunc jwt.Keyfunc
	// Algorithms overrides the algorithms derived from Key.
	Algorithms []string
	// Issuer and Audience, when set, must match "iss" and one of "aud".
	Issuer, Audience string
	// AllowNoExpiry accepts tokens without "exp" (by default they are
	// refused: a token that never expires cannot be withdrawn).
	AllowNoExpiry bool
	// Leeway tolerates clock skew when checking "exp" and "nbf"; 0 means
	// none.
	Leeway time.Duration
	// Cookie names the cookie a token may come in; "" means DefaultCookie,
	// "-" reads no cookie.
	Cookie string
}
