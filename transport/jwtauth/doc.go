// Package jwtauth authenticates Switchboard clients with JSON Web Tokens
// (github.com/golang-jwt/jwt/v5) on every transport, and bounds what each
// token may reach by the topic filters it lists.
//
// Use [New] to build an [Authenticator] from a verification key and pass
// [Authenticator.Auth] (or its Authenticate method in an Auth of your own)
// as the Auth option of any transport: REST, SSE, long poll, WebSocket,
// gRPC/Connect, GraphQL and the MQTT server.
//
// # Where the token comes from
//
// In this order: "Authorization: Bearer <token>"; the access_token query
// parameter (EventSource and browser WebSockets cannot set headers); a
// GraphQL connection_init payload's "token"; the cookie named by
// Options.Cookie ("switchboard_token" by default); for MQTT, the CONNECT
// password (the user name is not read).
//
// # Algorithms
//
// The key's type decides which "alg" a token may carry, so a token cannot
// pick a weaker check: a []byte secret accepts HS256, HS384 and HS512; an
// *rsa.PublicKey RS256/384/512 and PS256/384/512; an ed25519.PublicKey
// EdDSA; an *ecdsa.PublicKey ES256/384/512. [ParseKey] reads a PEM public
// key or certificate.
//
// # Claims
//
// Besides the registered claims ("sub" becomes Identity.Subject; "exp" is
// required unless Options.AllowNoExpiry; "nbf", "iss" and "aud" are
// checked when Options asks), a token lists what it may reach under the
// claim "switchboard":
//
//	{
//	  "sub": "alice",
//	  "exp": 1790000000,
//	  "switchboard": {
//	    "subscribe": ["user/alice/#", "news/+"],
//	    "publish":   ["user/alice/outbox/#"]
//	  }
//	}
//
// "subscribe" lists the filters the client may subscribe to and read the
// history of: a filter is allowed when every topic it can match is matched
// by one of them (pubsub.Within), so "user/alice/#" allows
// "user/alice/inbox" and "user/alice/+" but not "user/+/#" or "#".
// "publish" lists filters the topics of publishes and requests must match.
// Topics starting with "$" are matched only by filters that name them
// (a leading wildcard never matches them), so a client that answers
// requests needs "$reply/#" in "publish": replies go to "$reply/…" topics.
// A list that is absent or empty allows nothing of its kind: a token
// without the claim may connect and do nothing. The lists become the
// identity's transport.Scope, which every transport checks before the
// Authorize hook (consumer group names are left to Authorize). Other
// claims whose values are strings are copied to Identity.Claims.
//
// Tokens are checked once, when a client connects; a long-lived
// connection outlives its token's expiry.
package jwtauth
