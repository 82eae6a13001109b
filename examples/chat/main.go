// Command chat is a WebSocket chat with rooms: join and leave notices, and
// request/reply ("who is in this room?") over the broker.
//
//	go run ./examples/chat             # then open http://127.0.0.1:8080/ in two tabs
//
// A client connects to /ws?room=ROOM&name=NAME with the switchboard.v1
// protocol (package ws). It may subscribe to chat/ROOM/#, publish its
// messages to chat/ROOM/msg/NAME (the topic names the sender, so nobody can
// speak for someone else) and send requests to chat/svc/who. The server
// publishes {"event":"join"|"leave","user":NAME} on chat/ROOM/presence when
// a user's first connection opens or last one closes.
package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

//go:embed index.html
var indexHTML []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// Topics.
const whoTopic = "chat/svc/who" // request {"room":R} → reply {"room":R,"members":[…]}

func roomFilter(room string) string      { return "chat/" + room + "/#" }
func presenceTopic(room string) string   { return "chat/" + room + "/presence" }
func messageTopic(room, u string) string { return "chat/" + room + "/msg/" + u }

// Presence is the payload of a join or leave notice.
type Presence struct {
	Event string `json:"event"` // "join" or "leave"
	User  string `json:"user"`
}

// WhoRequest and WhoReply are the request/reply payloads on chat/svc/who.
type (
	WhoRequest struct {
		Room string `json:"room"`
	}
	WhoReply struct {
		Room    string   `json:"room"`
		Members []string `json:"members"`
	}
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// run serves until ctx is done. ready, if set, gets the listening address.
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	c := &chat{broker: broker, log: log, members: make(map[string]map[string]int)}
	wsh := ws.NewHandler(broker, &ws.Options{Auth: c.auth(), Logger: log})

	mux := http.NewServeMux()
	mux.Handle("GET /ws", c.presence(wsh))
	mux.Handle("GET /switchboard.mjs", ws.ClientScript()) // the page's client
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	// The "who" service answers requests from any transport.
	who, err := broker.Subscribe(ctx, whoTopic, nil)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.answerWho(who) }()
	defer wg.Wait()
	defer who.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("chat listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("chat shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// WebSockets close with 1001 (going away), which http.Server.Shutdown
	// cannot do for hijacked connections; leave notices go out as they close.
	if e := transport.Shutdown(sctx, srv, wsh); e != nil {
		log.Warn("shutdown", "err", e)
	}
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// chat tracks who is in which room.
type chat struct {
	broker pubsub.Broker
	log    *slog.Logger

	mu      sync.Mutex
	members map[string]map[string]int // room → user → open connections
}

type userKey struct{}

type user struct{ room, name string }

// presence wraps the WebSocket handler: it checks room and name, hands them
// to the Auth hooks through the request context, and announces the user's
// first connection and last disconnection in the room.
func (c *chat) presence(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		u := user{room: q.Get("room"), name: q.Get("name")}
		if !validName.MatchString(u.room) || !validName.MatchString(u.name) {
			transport.WriteError(w, fmt.Errorf("%w: room and name must be 1 to 32 letters, digits, '_' or '-'", transport.ErrBadRequest))
			return
		}
		// Announce the join once the upgrade succeeded (a refused origin or
		// handshake must not make anyone "join"), and the leave when the
		// connection closes, however it closes. ws.Handler.ServeHTTP may
		// return while the connection lives on, so its return is no signal.
		hw := &upgradeWatcher{ResponseWriter: w, upgraded: func() (closed func()) {
			c.change(r.Context(), u, +1)
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c.change(ctx, u, -1)
			}
		}}
		next.ServeHTTP(hw, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// upgradeWatcher tells when the WebSocket library takes the connection
// over (http.Hijacker) and when that connection is closed.
type upgradeWatcher struct {
	http.ResponseWriter
	upgraded func() (closed func())
}

func (w *upgradeWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &watchedConn{Conn: conn, closed: w.upgraded()}, rw, nil
}

func (w *upgradeWatcher) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// watchedConn calls closed once, on the first Close.
type watchedConn struct {
	net.Conn
	once   sync.Once
	closed func()
}

func (c *watchedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.closed)
	return err
}

func (c *chat) change(ctx context.Context, u user, delta int) {
	c.mu.Lock()
	room := c.members[u.room]
	if room == nil {
		room = make(map[string]int)
		c.members[u.room] = room
	}
	room[u.name] += delta
	n := room[u.name]
	if n == 0 {
		delete(room, u.name)
		if len(room) == 0 {
			delete(c.members, u.room)
		}
	}
	c.mu.Unlock()
	var event string
	switch {
	case delta > 0 && n == 1:
		event = "join"
	case delta < 0 && n == 0:
		event = "leave"
	default:
		return // another tab of the same user
	}
	data, _ := json.Marshal(Presence{Event: event, User: u.name})
	if _, err := c.broker.Publish(ctx, pubsub.Message{Topic: presenceTopic(u.room), Data: data}); err != nil {
		c.log.Warn("presence notice", "room", u.room, "user", u.name, "err", err)
	}
}

// auth lets a connection read its room, speak as itself and ask who is
// there; nothing else.
func (c *chat) auth() *transport.Auth {
	return &transport.Auth{
		Authenticate: func(ctx context.Context, _ transport.Credentials) (*transport.Identity, error) {
			u, ok := ctx.Value(userKey{}).(user)
			if !ok {
				return nil, transport.ErrUnauthenticated
			}
			return &transport.Identity{Subject: u.name, Claims: map[string]string{"room": u.room}}, nil
		},
		Authorize: func(_ context.Context, id *transport.Identity, a transport.Action, topic string) error {
			room := id.Claims["room"]
			switch a {
			case transport.ActionSubscribe:
				// Within, not a prefix test: it keeps "chat/ROOM/#" from
				// reaching "chat/+/…" or "#".
				if pubsub.Within(topic, roomFilter(room)) {
					return nil
				}
			case transport.ActionPublish:
				if topic == messageTopic(room, id.Subject) {
					return nil
				}
			case transport.ActionRequest:
				if topic == whoTopic {
					return nil
				}
			}
			return fmt.Errorf("%w: %s on %q is not allowed for %s in room %s", transport.ErrForbidden, a, topic, id.Subject, room)
		},
	}
}

// answerWho replies to each request on chat/svc/who until sub ends.
func (c *chat) answerWho(sub pubsub.Subscription) {
	for m := range sub.C() {
		var req WhoRequest
		if err := json.Unmarshal(m.Data, &req); err != nil || req.Room == "" {
			continue
		}
		c.mu.Lock()
		members := make([]string, 0, len(c.members[req.Room]))
		for name := range c.members[req.Room] {
			members = append(members, name)
		}
		c.mu.Unlock()
		slices.Sort(members)
		data, _ := json.Marshal(WhoReply{Room: req.Room, Members: members})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := pubsub.Reply(ctx, c.broker, m, pubsub.Message{Data: data}); err != nil {
			c.log.Warn("who reply", "err", err)
		}
		cancel()
	}
}
