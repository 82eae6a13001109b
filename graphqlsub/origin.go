package graphqlsub

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/switchboard-go/switchboard/transport"
)

// originGuard refuses cross-origin browser requests with unsafe methods
// (POST, PUT, DELETE: mutations, and operations on a reserved stream),
// which a page on another site could send with the user's cookies. The
// origins Options.OriginPatterns allows for WebSockets are allowed here
// too; InsecureSkipVerify allows every origin.
type originGuard struct {
	cop      *http.CrossOriginProtection // nil: every origin allowed
	patterns []string
}

func newOriginGuard(o *Options) originGuard {
	if o.InsecureSkipVerify {
		return originGuard{}
	}
	return originGuard{cop: http.NewCrossOriginProtection(), patterns: o.OriginPatterns}
}

// check answers 403 to a refused request and reports whether r may go on.
// Same-origin requests and requests without Origin and Sec-Fetch-Site
// (servers, curl) pass.
func (g originGuard) check(w http.ResponseWriter, r *http.Request) bool {
	if g.cop == nil {
		return true
	}
	err := g.cop.Check(r)
	if err == nil || g.allowed(r.Header.Get("Origin")) {
		return true
	}
	writeErrorBody(w, mediaJSON, http.StatusForbidden, transport.CodeForbidden,
		err.Error()+"; add the page's origin to OriginPatterns")
	return false
}

// allowed matches origin against the patterns the way
// websocket.AcceptOptions.OriginPatterns does (path.Match, case-folded):
// a pattern with "://" against scheme://host, any other against the host.
func (g originGuard) allowed(origin string) bool {
	if origin == "" || len(g.patterns) == 0 {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Host)
	for _, p := range g.patterns {
		target := host
		if strings.Contains(p, "://") { // "https://app.example.com": scheme and host
			target = strings.ToLower(u.Scheme) + "://" + host
		}
		if ok, _ := path.Match(strings.ToLower(p), target); ok {
			return true
		}
	}
	return false
}
