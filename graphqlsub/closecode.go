package graphqlsub

import "github.com/coder/websocket"

// Close codes of graphql-transport-ws (graphql-ws's CloseCode enum).
const (
	closeBadRequest                websocket.StatusCode = 4400
	closeUnauthorized              websocket.StatusCode = 4401
	closeForbidden                 websocket.StatusCode = 4403
	closeSubprotocolNotAcceptable  websocket.StatusCode = 4406
	closeConnectionInitTimeout     websocket.StatusCode = 4408
	closeSubscriberAlreadyExists   websocket.StatusCode = 4409
	closeTooManyInitialisationReqs websocket.StatusCode = 4429
	closeInternalServerError       websocket.StatusCode = 4500
	maxCloseReason                                      = 123 // graphql-ws's limitCloseReason keeps reasons < 124
)

// closeReason trims a reason to what a close frame may carry, cutting on a
// UTF-8 boundary.
func closeReason(s string) string {
	if len(s) <= maxCloseReason {
		return s
	}
	s = s[:maxCloseReason]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}
