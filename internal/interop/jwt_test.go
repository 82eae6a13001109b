package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/paho"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/internal/grpcgo"
	"github.com/switchboard-go/switchboard/longpoll"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/jwtauth"
	"github.com/switchboard-go/switchboard/ws"
)

// jwtSubscriber tries to subscribe to filter with a token over one
// transport, replaying history after since: nil when the subscription was
// allowed (and delivered the message published after since), an error
// wrapping transport.ErrForbidden when it was refused as forbidden, any
// other error otherwise.
type jwtSubscriber func(ctx context.Context, t *testing.T, token, filter, since string) error

// TestJWTScopeAcrossTransports (issue 16): one jwtauth.Authenticator over
// every transport; a token for user/alice/# reads user/alice/inbox and
// user/alice/+ but cannot subscribe user/+/#, user/#, # or user/bob/inbox
// on any of them.
func TestJWTScopeAcrossTransports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	secret := []byte("test secret")
	authn, err := jwtauth.New(&jwtauth.Options{Key: secret})
	require.NoError(t, err)
	auth := authn.Auth()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtauth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Switchboard:      &jwtauth.Grants{Subscribe: []string{"user/alice/#"}, Publish: []string{"user/alice/#"}},
	}).SignedString(secret)
	require.NoError(t, err)

	b := pubsub.NewMemory(nil)
	marker, err := b.Publish(ctx, pubsub.Message{Topic: "marker", Data: []byte("x")})
	require.NoError(t, err)
	for _, topic := range []string{"user/alice/inbox", "user/bob/inbox"} {
		_, err := b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte(`"hello"`)})
		require.NoError(t, err)
	}
	schema, err := gophers.NewBrokerSchema(b, nil) // Auth.Check with a nil Auth still applies the Scope
	require.NoError(t, err)
	sseH := sse.NewHandler(b, &sse.Options{Auth: auth})
	lp := longpoll.NewHandler(b, &longpoll.Options{Auth: auth})
	wsH := ws.NewHandler(b, &ws.Options{Auth: auth})
	path, g := grpcx.NewHandler(b, &grpcx.Options{Auth: auth})
	gq := graphqlsub.NewHandler(gophers.New(schema, nil), &graphqlsub.Options{Auth: auth})
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(b, &transport.RESTOptions{Auth: auth}))
	mux.Handle("/events", sseH)
	mux.Handle("/poll", lp)
	mux.Handle("/ws", wsH)
	mux.Handle(path, g)
	mux.Handle("/graphql", gq)
	srv := httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	mq, err := mqttx.NewServer(b, &mqttx.ServerOptions{Auth: auth})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- mq.Serve(ln) }()
	cc, err := grpc.NewClient(strings.TrimPrefix(srv.URL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cc.Close()
		require.NoError(t, mq.Close())
		require.ErrorIs(t, <-served, mqttx.ErrServerClosed)
		require.NoError(t, sseH.Close())
		require.NoError(t, lp.Close())
		require.NoError(t, wsH.Close())
		require.NoError(t, g.Close())
		require.NoError(t, gq.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})

	transports := map[string]jwtSubscriber{
		"rest":     jwtHTTP(srv.URL, "/topics/%s", true),
		"sse":      jwtHTTP(srv.URL, "/events?topic=%s&lastEventId=%s", false),
		"longpoll": jwtHTTP(srv.URL, "/poll?topic=%s&cursor=%s&timeout=1", false),
		"ws":       jwtWS(srv.URL),
		"grpc":     jwtGRPC(grpcgo.NewPubSubServiceClient(cc)),
		"graphql":  jwtGraphQL(srv.URL),
		"mqtt":     jwtMQTT(ln.Addr().String()),
	}
	cases := []struct {
		filter  string
		allowed bool
	}{
		{"user/alice/inbox", true},
		{"user/alice/+", true},
		{"user/alice/#", true},
		{"user/+/#", false},
		{"user/#", false},
		{"#", false},
		{"+/alice/inbox", false},
		{"user/bob/inbox", false},
	}
	for name, subscribe := range transports {
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				err := subscribe(ctx, t, token, c.filter, marker.Cursor)
				if c.allowed {
					require.NoError(t, err, "%s %s", name, c.filter)
				} else {
					require.ErrorIs(t, err, transport.ErrForbidden, "%s %s", name, c.filter)
				}
			}
			// Without a token: refused as unauthenticated, never allowed.
			err := subscribe(ctx, t, "", "user/alice/inbox", marker.Cursor)
			require.Error(t, err)
			require.NotErrorIs(t, err, transport.ErrForbidden, "%s without a token", name)
		})
	}
}

// errStatus turns an HTTP refusal into an error matching its code.
func errStatus(code int, body string) error {
	switch code {
	case http.StatusForbidden:
		return fmt.Errorf("%w: %s", transport.ErrForbidden, body)
	case http.StatusUnauthorized:
		return fmt.Errorf("%w: %s", transport.ErrUnauthenticated, body)
	}
	return fmt.Errorf("status %d: %s", code, body)
}

// jwtHTTP subscribes (or reads history, for REST) with one GET; the path
// format takes the filter and the cursor.
func jwtHTTP(base, format string, inPath bool) jwtSubscriber {
	return func(ctx context.Context, t *testing.T, token, filter, since string) error {
		f := url.QueryEscape(filter)
		if inPath {
			f = strings.ReplaceAll(url.PathEscape(filter), "%2F", "/")
		}
		u := base + fmt.Sprintf(format, f, url.QueryEscape(since))
		if inPath {
			u = base + fmt.Sprintf(format, f)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return errStatus(resp.StatusCode, string(body))
		}
		// The message published after the marker arrives (SSE: the first
		// event's data; long poll and REST: in the page).
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "hello") {
				return nil
			}
		}
		return fmt.Errorf("no message in the answer: %v", sc.Err())
	}
}

func jwtWS(base string) jwtSubscriber {
	return func(ctx context.Context, t *testing.T, token, filter, since string) error {
		h := http.Header{}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws",
			&websocket.DialOptions{Subprotocols: []string{ws.Subprotocol}, HTTPHeader: h})
		require.NoError(t, err)
		defer func() { _ = c.CloseNow() }()
		sub, _ := json.Marshal(map[string]string{"type": "subscribe", "id": "s", "filter": filter, "since": since})
		if err := c.Write(ctx, websocket.MessageText, sub); err != nil {
			return err
		}
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				if websocket.CloseStatus(err) == ws.CloseUnauthorized {
					return fmt.Errorf("%w: %v", transport.ErrUnauthenticated, err)
				}
				return err
			}
			var f struct{ Type, Code string }
			require.NoError(t, json.Unmarshal(data, &f))
			switch f.Type {
			case "error":
				if f.Code == transport.CodeForbidden {
					return fmt.Errorf("%w: %s", transport.ErrForbidden, data)
				}
				return fmt.Errorf("error frame %s", data)
			case "message":
				return nil
			}
		}
	}
}

func jwtGRPC(c grpcgo.PubSubServiceClient) jwtSubscriber {
	return func(ctx context.Context, t *testing.T, token, filter, since string) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if token != "" {
			ctx = withToken(ctx, token)
		}
		st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Filters: []string{filter}, Since: since})
		if err == nil {
			_, err = st.Recv()
		}
		if status.Code(err) == codes.PermissionDenied {
			return fmt.Errorf("%w: %v", transport.ErrForbidden, err)
		}
		return err
	}
}

func jwtGraphQL(base string) jwtSubscriber {
	return func(ctx context.Context, t *testing.T, token, filter, since string) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		body, _ := json.Marshal(map[string]any{
			"query":     `subscription($f: String!, $s: String) { messages(filter: $f, since: $s) { data } }`,
			"variables": map[string]string{"f": filter, "s": since},
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return errStatus(resp.StatusCode, string(b))
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok {
				continue
			}
			switch {
			case strings.Contains(line, "hello"):
				return nil
			case strings.Contains(line, "forbidden"):
				return fmt.Errorf("%w: %s", transport.ErrForbidden, line)
			}
			return fmt.Errorf("unexpected event %s", line)
		}
		return fmt.Errorf("stream ended: %v", sc.Err())
	}
}

// jwtMQTT connects with the token as password and subscribes: SUBACK 0x87
// is forbidden; a CONNACK refusal 0x86 is unauthenticated.
func jwtMQTT(addr string) jwtSubscriber {
	return func(ctx context.Context, t *testing.T, token, filter, _ string) error {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		pc := paho.NewClient(paho.ClientConfig{ClientID: "alice", Conn: conn})
		ack, err := pc.Connect(ctx, &paho.Connect{ClientID: "alice", CleanStart: true, KeepAlive: 30,
			UsernameFlag: true, Username: "alice", PasswordFlag: token != "", Password: []byte(token)})
		if err != nil {
			_ = conn.Close()
			if ack != nil && ack.ReasonCode == 0x86 {
				return fmt.Errorf("%w: CONNACK 0x86", transport.ErrUnauthenticated)
			}
			return err
		}
		defer func() {
			_ = pc.Disconnect(&paho.Disconnect{})
			<-pc.Done()
		}()
		sack, err := pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter}}})
		if sack == nil {
			return err
		}
		if sack.Reasons[0] == 0x87 {
			return fmt.Errorf("%w: SUBACK 0x87", transport.ErrForbidden)
		}
		if sack.Reasons[0] > 2 {
			return fmt.Errorf("SUBACK %#x", sack.Reasons[0])
		}
		return nil
	}
}
