package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-go/switchboard/transport"
)

// Errors of New and ParseKey. A refused token wraps
// transport.ErrUnauthenticated (and ErrNoToken or ErrInvalidToken).
var (
	// ErrKey: the key is missing, of an unsupported type, or unreadable.
	ErrKey = errors.New("jwtauth: bad key")
	// ErrNoToken: the client presented no token.
	ErrNoToken = errors.New("jwtauth: no token")
	// ErrInvalidToken: the token does not parse, verify or validate.
	ErrInvalidToken = errors.New("jwtauth: invalid token")
)

// Grants is the value of the "switchboard" claim: the filters a token may
// subscribe to and publish under (see the package doc).
type Grants struct {
	Subscribe []string `json:"subscribe,omitempty"`
	Publish   []string `json:"publish,omitempty"`
}

// Claims is a token's claims as this package reads them; use it to issue
// tokens with jwt.NewWithClaims.
type Claims struct {
	jwt.RegisteredClaims
	Switchboard *Grants `json:"switchboard,omitempty"`
}

// Authenticator checks tokens. It is safe for concurrent use.
type Authenticator struct {
	parser  *jwt.Parser
	keyfunc jwt.Keyfunc
	cookie  string
}

// New returns an Authenticator for opts; the error wraps ErrKey when no
// key is given or its type is not supported.
func New(opts *Options) (*Authenticator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	algs := o.Algorithms
	kf := o.Keyfunc
	if kf == nil {
		if o.Key == nil {
			return nil, fmt.Errorf("%w: Options.Key or Options.Keyfunc is required", ErrKey)
		}
		if len(algs) == 0 {
			var err error
			if algs, err = algorithms(o.Key); err != nil {
				return nil, err
			}
		}
		key := o.Key
		kf = func(*jwt.Token) (any, error) { return key, nil }
	} else if len(algs) == 0 {
		return nil, fmt.Errorf("%w: Options.Algorithms must be set with Options.Keyfunc", ErrKey)
	}
	popts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(o.Leeway)}
	if !o.AllowNoExpiry {
		popts = append(popts, jwt.WithExpirationRequired())
	}
	if o.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(o.Issuer))
	}
	if o.Audience != "" {
		popts = append(popts, jwt.WithAudience(o.Audience))
	}
	cookie := o.Cookie
	switch cookie {
	case "":
		cookie = DefaultCookie
	case "-":
		cookie = ""
	}
	return &Authenticator{parser: jwt.NewParser(popts...), keyfunc: kf, cookie: cookie}, nil
}

// algorithms returns the algorithms a key verifies.
func algorithms(key any) ([]string, error) {
	switch key.(type) {
	case []byte:
		return []string{"HS256", "HS384", "HS512"}, nil
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	case *ecdsa.PublicKey:
		return []string{"ES256", "ES384", "ES512"}, nil
	}
	return nil, fmt.Errorf("%w: unsupported key type %T (want []byte, *rsa.PublicKey, ed25519.PublicKey or *ecdsa.PublicKey)", ErrKey, key)
}

// Auth returns a transport.Auth whose Authenticate is a.Authenticate and
// which authorizes everything within each token's scope.
func (a *Authenticator) Auth() *transport.Auth {
	return &transport.Auth{Authenticate: a.Authenticate}
}

// Authenticate finds the token in c (see the package doc), verifies it
// and returns its identity, with the token's grants as Scope. Errors wrap
// transport.ErrUnauthenticated and ErrNoToken or ErrInvalidToken.
func (a *Authenticator) Authenticate(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
	raw := a.token(c)
	if raw == "" {
		return nil, errors.Join(transport.ErrUnauthenticated, ErrNoToken)
	}
	claims := jwt.MapClaims{}
	if _, err := a.parser.ParseWithClaims(raw, claims, a.keyfunc); err != nil {
		return nil, errors.Join(transport.ErrUnauthenticated, fmt.Errorf("%w: %w", ErrInvalidToken, err))
	}
	id := &transport.Identity{Claims: map[string]string{}, Scope: &transport.Scope{}}
	id.Subject, _ = claims.GetSubject()
	for k, v := range claims {
		if s, ok := v.(string); ok {
			id.Claims[k] = s
		}
	}
	if g, ok := claims[ClaimName]; ok {
		var gr Grants
		b, _ := json.Marshal(g)
		if err := json.Unmarshal(b, &gr); err != nil {
			return nil, errors.Join(transport.ErrUnauthenticated,
				fmt.Errorf("%w: claim %q is not {\"subscribe\":[…],\"publish\":[…]}: %w", ErrInvalidToken, ClaimName, err))
		}
		id.Scope.Subscribe, id.Scope.Publish = slices.Clip(gr.Subscribe), slices.Clip(gr.Publish)
	}
	return id, nil
}

// token picks the client's token: the Credentials' Token (Authorization
// header, access_token query, GraphQL payload), the cookie, or the MQTT
// password.
func (a *Authenticator) token(c transport.Credentials) string {
	if c.Token != "" {
		return c.Token
	}
	if a.cookie != "" && c.Header != nil {
		if ck, err := (&http.Request{Header: c.Header}).Cookie(a.cookie); err == nil && ck.Value != "" {
			return ck.Value
		}
	}
	if c.Transport == "mqtt" {
		return c.Password
	}
	return ""
}

// ParseKey reads a verification key from PEM: a public key ("PUBLIC KEY",
// PKIX: RSA, Ed25519 or ECDSA), an RSA "RSA PUBLIC KEY" (PKCS #1) or a
// "CERTIFICATE" whose public key is used. The error wraps ErrKey.
func ParseKey(pemData []byte) (any, error) {
	blk, _ := pem.Decode(pemData)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	var (
		key any
		err error
	)
	switch blk.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a public key or certificate", ErrKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if _, err := algorithms(key); err != nil {
		return nil, err
	}
	return key, nil
}
