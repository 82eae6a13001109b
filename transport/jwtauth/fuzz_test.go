package jwtauth_test

import (
	"context"
	"testing"

	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/jwtauth"
)

// validSeed is {"alg":"HS256"}
// {"sub":"alice","switchboard":{"subscribe":["user/alice/#"]}}, signed with
// "fuzz secret".
const validSeed = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsInN3aXRjaGJvYXJkIjp7InN1YnNjcmliZSI6WyJ1c2VyL2FsaWNlLyMiXX19.0uru3PWwdiKhc9hwTIxhYWIwGS7Xc8MsE3MZxuEBeJw"

// FuzzAuthenticate: any token string is refused as unauthenticated or
// accepted with a scope, never a panic; a token's grants survive only as
// lists of strings.
func FuzzAuthenticate(f *testing.F) {
	secret := []byte("fuzz secret")
	a, err := jwtauth.New(&jwtauth.Options{Key: secret, AllowNoExpiry: true})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := a.Authenticate(context.Background(), transport.Credentials{Token: validSeed}); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err) // the fuzzer would not reach acceptance
	}
	for _, s := range []string{
		validSeed,
		"",
		"a.b.c",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.",
		// {"sub":"x","switchboard":{"subscribe":"user/#"}}: grants that are not lists
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwic3dpdGNoYm9hcmQiOnsic3Vic2NyaWJlIjoidXNlci8jIn19.V-iyZtnJ1zvCMGW8glnQwBbbYhQNpZvjvPzbgoVf8wk",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := a.Authenticate(context.Background(), transport.Credentials{Transport: "ws", Token: tok})
		if err != nil {
			if id != nil {
				t.Fatal("an identity with an error")
			}
			if transport.Code(err) != transport.CodeUnauthorized {
				t.Fatalf("error %v is not unauthorized", err)
			}
			return
		}
		if id == nil || id.Scope == nil {
			t.Fatal("accepted without an identity and scope")
		}
	})
}
