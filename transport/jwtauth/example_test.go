package jwtauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/jwtauth"
)

// Example requires a token on the REST handler (every transport takes the
// same Auth) and shows a token for user/alice/# reading its own topics but
// not everyone's.
func Example() {
	secret := []byte("change me")
	authn, err := jwtauth.New(&jwtauth.Options{Key: secret})
	if err != nil {
		panic(err)
	}
	b := pubsub.NewMemory(nil)
	defer b.Close()
	srv := httptest.NewServer(transport.NewRESTHandler(b, &transport.RESTOptions{Auth: authn.Auth()}))
	defer srv.Close()

	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtauth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Switchboard:      &jwtauth.Grants{Subscribe: []string{"user/alice/#"}, Publish: []string{"user/alice/#"}},
	}).SignedString(secret)

	for _, path := range []string{"/topics/user/alice/inbox", "/topics/user/+/%23", "/topics/%23"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode)
	}
	// Output:
	// /topics/user/alice/inbox 200
	// /topics/user/+/%23 403
	// /topics/%23 403
}
