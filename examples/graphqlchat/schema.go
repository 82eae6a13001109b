package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	graphql "github.com/graph-gophers/graphql-go"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// schemaSDL is the schema of the guide's Apollo server (Query messages
// and userStatus, Mutation addMessage and updateUserStatus, Message with
// roomId and sender: String!), which its Apollo client's documents use,
// plus what the guide's schema section and a client that reconnects need:
// setStatus and addNotification to feed the other subscriptions,
// recentMessages for the latest messages, and an optional since argument
// (with a cursor field) on every subscription, so a client that reconnects
// misses nothing. The guide's schema section declares Message.sender as
// User!; one schema cannot have both, and the Apollo server's String!
// (the sender's id, from the Authorization header or connectionParams)
// is what its client selects.
const schemaSDL = `
schema { query: Query mutation: Mutation subscription: Subscription }

type Query {
  "The messages of a room, oldest first (the latest 1000)."
  messages(roomId: ID!): [Message]
  "A user's latest status, or null."
  userStatus(userId: ID!): UserStatus
  "The latest messages of a room, oldest first (at most limit, default 50)."
  recentMessages(roomId: ID!, limit: Int): [Message!]!
}

type Mutation {
  "Adds a message to a room, sent by the caller (anonymous without Authorization)."
  addMessage(roomId: ID!, content: String!): Message
  "Sets the caller's status (ONLINE, OFFLINE or AWAY); needs Authorization."
  updateUserStatus(status: String!): UserStatus
  "Sets a user's status (ONLINE, OFFLINE or AWAY)."
  setStatus(userId: ID!, status: String!): UserStatus!
  addNotification(type: String!, content: String!): Notification!
}

type Subscription {
  "New messages in one room. since resumes after a cursor."
  messageAdded(roomId: ID!, since: String): Message
  "Status changes of one user."
  userStatusChanged(userId: ID!, since: String): UserStatus
  "Every notification."
  notificationAdded(since: String): Notification
}

type Message {
  id: ID!
  roomId: ID!
  content: String!
  sender: String!
  timestamp: String!
  cursor: String!
}

type UserStatus {
  userId: ID!
  status: String! # "ONLINE", "OFFLINE", "AWAY"
  lastSeen: String!
  cursor: String!
}

type Notification {
  id: ID!
  type: String!
  content: String!
  timestamp: String!
  cursor: String!
}
`

// Topics: each room and each user has its own topic, so the broker does
// the per-room and per-user filtering.
func roomTopic(roomID string) string { return "rooms/" + roomID + "/messages" }
func userTopic(userID string) string { return "users/" + userID + "/status" }

const notificationsTopic = "notifications"

const maxContent = 4096

// checkID refuses ids that would change the topic's shape.
func checkID(kind, id string) error {
	if id == "" || len(id) > 64 || strings.ContainsAny(id, "/+#") || strings.HasPrefix(id, "$") {
		return fmt.Errorf("invalid %s %q: 1 to 64 characters, without '/', '+', '#' or a leading '$'", kind, id)
	}
	return pubsub.ValidateTopic(id)
}

// Stored payloads (JSON on the broker).
type (
	chatMessage struct {
		ID        string `json:"id"`
		RoomID    string `json:"roomId"`
		Content   string `json:"content"`
		Sender    string `json:"sender"`
		Timestamp string `json:"timestamp"`
	}
	userStatus struct {
		UserID   string `json:"userId"`
		Status   string `json:"status"`
		LastSeen string `json:"lastSeen,omitempty"`
	}
	notification struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		Content   string `json:"content"`
		Timestamp string `json:"timestamp"`
	}
)

// root is the root resolver.
type root struct {
	broker pubsub.Broker
}

func newSchema(b pubsub.Broker) (*graphql.Schema, error) {
	return graphql.ParseSchema(schemaSDL, &root{broker: b},
		graphql.SubscribeResolverTimeout(10*time.Second))
}

func (r *root) publish(ctx context.Context, topic string, v any) (pubsub.Receipt, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return pubsub.Receipt{}, err
	}
	return r.broker.Publish(ctx, pubsub.Message{Topic: topic, Data: data})
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// ---- Query ----

func (r *root) Messages(ctx context.Context, args struct{ RoomID graphql.ID }) (*[]*messageResolver, error) {
	limit := int32(1000)
	ms, err := r.RecentMessages(ctx, struct {
		RoomID graphql.ID
		Limit  *int32
	}{args.RoomID, &limit})
	return &ms, err
}

func (r *root) RecentMessages(ctx context.Context, args struct {
	RoomID graphql.ID
	Limit  *int32
}) ([]*messageResolver, error) {
	room := string(args.RoomID)
	if err := checkID("roomId", room); err != nil {
		return nil, err
	}
	limit := 50
	if args.Limit != nil {
		if *args.Limit < 1 || *args.Limit > 1000 {
			return nil, errors.New("limit must be between 1 and 1000")
		}
		limit = int(*args.Limit)
	}
	out, err := latest(ctx, r.broker, roomTopic(room), limit, newMessageResolver)
	if out == nil && err == nil {
		out = []*messageResolver{} // [Message!]! : an empty room is an empty list
	}
	return out, err
}

func (r *root) UserStatus(ctx context.Context, args struct{ UserID graphql.ID }) (*statusResolver, error) {
	user := string(args.UserID)
	if err := checkID("userId", user); err != nil {
		return nil, err
	}
	out, err := latest(ctx, r.broker, userTopic(user), 1, newStatusResolver)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out[0], nil
}

// latest pages through a topic's history and keeps the last limit values
// that decode.
func latest[T interface{ failed() bool }](ctx context.Context, b pubsub.Broker, topic string, limit int, convert func(graphqlsub.Event) T) ([]T, error) {
	hr, ok := b.(pubsub.HistoryReader)
	if !ok {
		return nil, errors.New("this broker keeps no history")
	}
	var out []T
	since := ""
	for {
		page, err := hr.History(ctx, topic, pubsub.HistoryOptions{Since: since, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, m := range page.Messages {
			if res := convert(graphqlsub.Event{Message: m}); !res.failed() {
				out = append(out, res)
			}
		}
		if len(out) > limit {
			out = out[len(out)-limit:]
		}
		if !page.More {
			return out, nil
		}
		since = page.Next
	}
}

// sender is the caller: the identity the handler's Auth made from the
// Authorization header or the connection_init payload's authorization, as
// the guide's Apollo server reads it; "anonymous" without one.
func sender(ctx context.Context) string {
	if id := transport.IdentityFrom(ctx); id != nil && id.Subject != "" {
		return id.Subject
	}
	return "anonymous"
}

// ---- Mutation ----

func (r *root) AddMessage(ctx context.Context, args struct {
	RoomID  graphql.ID
	Content string
}) (*messageResolver, error) {
	room := string(args.RoomID)
	if err := checkID("roomId", room); err != nil {
		return nil, err
	}
	if strings.TrimSpace(args.Content) == "" || len(args.Content) > maxContent {
		return nil, fmt.Errorf("content must be 1 to %d bytes and not blank", maxContent)
	}
	m := chatMessage{ID: pubsub.NewID(), RoomID: room, Content: args.Content, Sender: sender(ctx), Timestamp: now()}
	rc, err := r.publish(ctx, roomTopic(room), m)
	if err != nil {
		return nil, err
	}
	return &messageResolver{m: m, cursor: rc.Cursor}, nil
}

func (r *root) UpdateUserStatus(ctx context.Context, args struct{ Status string }) (*statusResolver, error) {
	id := transport.IdentityFrom(ctx)
	if id == nil || id.Subject == "" {
		return nil, errors.New("not authenticated: send your user id as Authorization (header, or connectionParams)")
	}
	return r.SetStatus(ctx, struct {
		UserID graphql.ID
		Status string
	}{graphql.ID(id.Subject), args.Status})
}

func (r *root) SetStatus(ctx context.Context, args struct {
	UserID graphql.ID
	Status string
}) (*statusResolver, error) {
	user := string(args.UserID)
	if err := checkID("userId", user); err != nil {
		return nil, err
	}
	switch args.Status {
	case "ONLINE", "OFFLINE", "AWAY":
	default:
		return nil, fmt.Errorf("invalid status %q: want ONLINE, OFFLINE or AWAY", args.Status)
	}
	s := userStatus{UserID: user, Status: args.Status, LastSeen: now()}
	rc, err := r.publish(ctx, userTopic(user), s)
	if err != nil {
		return nil, err
	}
	return &statusResolver{s: s, cursor: rc.Cursor}, nil
}

func (r *root) AddNotification(ctx context.Context, args struct{ Type, Content string }) (*notificationResolver, error) {
	if strings.TrimSpace(args.Type) == "" || len(args.Type) > 64 {
		return nil, errors.New("type must be 1 to 64 bytes")
	}
	if strings.TrimSpace(args.Content) == "" || len(args.Content) > maxContent {
		return nil, fmt.Errorf("content must be 1 to %d bytes and not blank", maxContent)
	}
	n := notification{ID: pubsub.NewID(), Type: args.Type, Content: args.Content, Timestamp: now()}
	rc, err := r.publish(ctx, notificationsTopic, n)
	if err != nil {
		return nil, err
	}
	return &notificationResolver{n: n, cursor: rc.Cursor}, nil
}

// ---- Subscription ----

func (r *root) MessageAdded(ctx context.Context, args struct {
	RoomID graphql.ID
	Since  *string
}) (<-chan *messageResolver, error) {
	room := string(args.RoomID)
	if err := checkID("roomId", room); err != nil {
		return nil, err
	}
	return graphqlsub.Stream(ctx, r.broker, roomTopic(room), streamOptions(args.Since, &chatMessage{}), newMessageResolver)
}

func (r *root) UserStatusChanged(ctx context.Context, args struct {
	UserID graphql.ID
	Since  *string
}) (<-chan *statusResolver, error) {
	user := string(args.UserID)
	if err := checkID("userId", user); err != nil {
		return nil, err
	}
	return graphqlsub.Stream(ctx, r.broker, userTopic(user), streamOptions(args.Since, &userStatus{}), newStatusResolver)
}

func (r *root) NotificationAdded(ctx context.Context, args struct{ Since *string }) (<-chan *notificationResolver, error) {
	return graphqlsub.Stream(ctx, r.broker, notificationsTopic, streamOptions(args.Since, &notification{}), newNotificationResolver)
}

// streamOptions resumes after since and skips payloads that are not of
// the topic's type (anyone may publish on the broker, over any transport).
func streamOptions[T any](since *string, _ *T) *graphqlsub.StreamOptions {
	o := &graphqlsub.StreamOptions{Match: func(m *pubsub.Message) bool {
		var v T
		return json.Unmarshal(m.Data, &v) == nil
	}}
	if since != nil {
		o.Since = *since
	}
	return o
}

// ---- Object resolvers: each holds a value, or the stream's in-band error
// (a gap, or the end of the stream) that every field then returns. ----

type messageResolver struct {
	m      chatMessage
	cursor string
	err    error
}

func newMessageResolver(ev graphqlsub.Event) *messageResolver {
	if ev.Err != nil {
		return &messageResolver{err: ev.Err}
	}
	r := &messageResolver{cursor: ev.Message.Cursor}
	r.err = json.Unmarshal(ev.Message.Data, &r.m)
	return r
}

func (r *messageResolver) failed() bool                { return r.err != nil }
func (r *messageResolver) ID() (graphql.ID, error)     { return graphql.ID(r.m.ID), r.err }
func (r *messageResolver) RoomID() (graphql.ID, error) { return graphql.ID(r.m.RoomID), r.err }
func (r *messageResolver) Content() (string, error)    { return r.m.Content, r.err }
func (r *messageResolver) Sender() (string, error)     { return r.m.Sender, r.err }
func (r *messageResolver) Timestamp() (string, error)  { return r.m.Timestamp, r.err }
func (r *messageResolver) Cursor() (string, error)     { return r.cursor, r.err }

type statusResolver struct {
	s      userStatus
	cursor string
	err    error
}

func newStatusResolver(ev graphqlsub.Event) *statusResolver {
	if ev.Err != nil {
		return &statusResolver{err: ev.Err}
	}
	r := &statusResolver{cursor: ev.Message.Cursor}
	r.err = json.Unmarshal(ev.Message.Data, &r.s)
	return r
}

func (r *statusResolver) UserID() (graphql.ID, error) { return graphql.ID(r.s.UserID), r.err }
func (r *statusResolver) Status() (string, error)     { return r.s.Status, r.err }
func (r *statusResolver) Cursor() (string, error)     { return r.cursor, r.err }
func (r *statusResolver) LastSeen() (string, error)   { return r.s.LastSeen, r.err }
func (r *statusResolver) failed() bool                { return r.err != nil }

type notificationResolver struct {
	n      notification
	cursor string
	err    error
}

func newNotificationResolver(ev graphqlsub.Event) *notificationResolver {
	if ev.Err != nil {
		return &notificationResolver{err: ev.Err}
	}
	r := &notificationResolver{cursor: ev.Message.Cursor}
	r.err = json.Unmarshal(ev.Message.Data, &r.n)
	return r
}

func (r *notificationResolver) ID() (graphql.ID, error)    { return graphql.ID(r.n.ID), r.err }
func (r *notificationResolver) Type() (string, error)      { return r.n.Type, r.err }
func (r *notificationResolver) Content() (string, error)   { return r.n.Content, r.err }
func (r *notificationResolver) Timestamp() (string, error) { return r.n.Timestamp, r.err }
func (r *notificationResolver) Cursor() (string, error)    { return r.cursor, r.err }
