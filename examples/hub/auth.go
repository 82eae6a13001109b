package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/jwtauth"
	"github.com/switchboard-go/switchboard/transport/ratelimit"
)

var (
	jwtKey                   string
	publishRate, connectRate float64
)

// -jwt-key requires a JSON Web Token on every transport (see
// transport/jwtauth for where a client puts it and for the "switchboard"
// claim listing the filters it may subscribe to and publish under). The
// value is a PEM file holding a public key or certificate (RS*, PS*, ES*,
// EdDSA), or else the HMAC secret itself (HS256/384/512); "@FILE" reads
// the secret from FILE.
func init() {
	extraFlags = append(extraFlags, func(fs *flag.FlagSet) {
		fs.StringVar(&jwtKey, "jwt-key", "", "require JWTs: a PEM public key file, an HS256 secret, or @FILE holding the secret (empty: no auth)")
		fs.Float64Var(&publishRate, "publish-rate", 0, "publishes per second per client (its token's subject, else its IP), bursts of 5x; 0: no limit")
		fs.Float64Var(&connectRate, "connect-rate", 0, "SSE, WebSocket and MQTT connection attempts per second per IP and per subject, bursts of 5x; 0: no limit")
	})
}

// hubLimits wraps a (nil allows everyone) in the -publish-rate and
// -connect-rate limits (transport/ratelimit); a without them.
func hubLimits(a *transport.Auth) *transport.Auth {
	if publishRate <= 0 && connectRate <= 0 {
		return a
	}
	o := &ratelimit.Options{PublishRate: -1, ConnectRate: -1, MaxConnectionsPerIP: -1, MaxConnectionsPerIdentity: -1}
	if publishRate > 0 {
		o.PublishRate, o.PublishBurst = publishRate, max(1, int(5*publishRate))
	}
	if connectRate > 0 { // with the default caps of open connections per IP and subject
		o.ConnectRate, o.ConnectBurst = connectRate, max(1, int(5*connectRate))
		o.MaxConnectionsPerIP, o.MaxConnectionsPerIdentity = 0, 0
	}
	return ratelimit.New(o).Wrap(a)
}

// hubAuth returns the transports' Auth for -jwt-key; nil without it.
func hubAuth() (*transport.Auth, error) {
	if jwtKey == "" {
		return hubLimits(nil), nil
	}
	key, err := readJWTKey(jwtKey)
	if err != nil {
		return nil, err
	}
	a, err := jwtauth.New(&jwtauth.Options{Key: key})
	if err != nil {
		return nil, fmt.Errorf("-jwt-key: %w", err)
	}
	return hubLimits(a.Auth()), nil
}

// readJWTKey reads -jwt-key: a PEM file's public key, @FILE's secret, or
// the value as the secret.
func readJWTKey(v string) (any, error) {
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("-jwt-key: %w", err)
		}
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if b, err := os.ReadFile(v); err == nil {
		key, err := jwtauth.ParseKey(b)
		if err != nil {
			return nil, fmt.Errorf("-jwt-key %s: %w", v, err)
		}
		return key, nil
	}
	if len(v) < 16 {
		return nil, fmt.Errorf("-jwt-key: an HS256 secret needs at least 16 bytes (or give a PEM file)")
	}
	return []byte(v), nil
}
