package mqttx

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/transport"
)

var _ http.Handler = (*Server)(nil)

// ServeHTTP accepts MQTT over WebSocket (subprotocol "mqtt", binary
// messages) on any path it is mounted at. Requests that are not WebSocket
// upgrades get 426 Upgrade Required; clients that do not offer the "mqtt"
// subprotocol are refused with close code 1002, and after Shutdown or
// Close every upgrade gets 503 with Retry-After. The upgrade request's
// headers and access_token query parameter reach Auth.Authenticate.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "" {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Sec-WebSocket-Protocol", "mqtt")
		http.Error(w, "mqttx: MQTT over WebSocket needs a WebSocket upgrade with subprotocol \"mqtt\"", http.StatusUpgradeRequired)
		return
	}
	if err := s.conns.Enter(); err != nil { // shutting down
		w.Header().Set("Retry-After", "1")
		transport.WriteError(w, err)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{"mqtt"},
		OriginPatterns: s.opts.OriginPatterns,
	})
	if err != nil {
		s.conns.Leave(nil)
		s.log.Debug("mqttx: websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	if c.Subprotocol() != "mqtt" {
		_ = c.Close(websocket.StatusProtocolError, `subprotocol "mqtt" required`)
		s.conns.Leave(nil)
		return
	}
	// Not r.Context(): it is unreliable after the hijack.
	nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
	creds := transport.RequestCredentials(r, "mqtt")
	wc := &wsConn{Conn: nc, header: r.Header, remote: r.RemoteAddr, token: creds.Token}
	cc := s.newConn(wc, c.CloseNow)
	defer s.conns.Leave(cc)
	s.serveConn("ws", cc)
}

// wsConn carries the upgrade request's details to the CONNECT hook.
type wsConn struct {
	net.Conn
	header http.Header
	remote string
	token  string
}
