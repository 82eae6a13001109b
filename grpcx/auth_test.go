package grpcx

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

func TestCredentials(t *testing.T) {
	for _, tc := range []struct {
		auth, query     string
		token, user, pw string
	}{
		{"Bearer abc", "", "abc", "", ""},
		{"bearer   abc  ", "", "abc", "", ""},
		{"Basic Ym9iOnB3", "", "", "bob", "pw"},
		{"Basic !!!", "", "", "", ""},
		{"", "access_token=q", "q", "", ""},
		{"Bearer h", "access_token=q", "h", "", ""},
		{"Token x", "", "", "", ""},
	} {
		h := http.Header{}
		if tc.auth != "" {
			h.Set("Authorization", tc.auth)
		}
		q, _ := url.ParseQuery(tc.query)
		c := credentials(h, connect.Peer{Addr: "1.2.3.4:5", Query: q})
		if c.Token != tc.token || c.Username != tc.user || c.Password != tc.pw || c.Transport != "grpc" || c.RemoteAddr != "1.2.3.4:5" {
			t.Errorf("%q %q: got %+v", tc.auth, tc.query, c)
		}
	}
}

// FuzzCredentials checks the Authorization parser never panics and yields
// either a trimmed token or Basic credentials, never both.
func FuzzCredentials(f *testing.F) {
	for _, s := range []string{"Bearer abc", "Basic Ym9iOnB3", "basic ", "Bearer ", "Basic Og==", "Basic \x00", "BEARER \t x \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		h := http.Header{"Authorization": {auth}}
		c := credentials(h, connect.Peer{})
		if c.Token != strings.TrimSpace(c.Token) {
			t.Fatalf("untrimmed token %q", c.Token)
		}
		if c.Token != "" && (c.Username != "" || c.Password != "") {
			t.Fatalf("both a token and Basic credentials from %q", auth)
		}
	})
}
