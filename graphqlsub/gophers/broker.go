package gophers

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	graphql "github.com/graph-gophers/graphql-go"
	gqllog "github.com/graph-gophers/graphql-go/log"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// BrokerSchema is the SDL of a ready-made GraphQL API over a pubsub.Broker,
// served by the resolver NewBrokerResolver returns. Cursors and payloads
// are strings: data is the payload as text (it is null-free UTF-8 in
// practice); dataBase64 carries any payload byte-exactly.
//
// A subscription resumes after since with no gap and no duplicate. When it
// cannot, the stream says so with an event whose "data" is null and whose
// error has extensions {"code":"gap","cursor":since} (delivery then goes on
// live), and a stream that ends for any reason but the client's complete
// ends with an error whose extensions are {"code":"slow_consumer" or
// "unavailable","cursor":<last cursor delivered>}: subscribe again with
// since set to it.
const BrokerSchema = `
schema { query: Query mutation: Mutation subscription: Subscription }

type Query {
  "Messages matching the topic filter published after since (oldest first, at most limit, default 100). A page is also cut where the result would outgrow the server's response budget: read on from the last cursor until a page is empty."
  messages(topic: String!, since: String, limit: Int): [Message!]!
}

type Mutation {
  "Publishes data (UTF-8 text) to topic."
  publish(topic: String!, data: String!): Message!
}

type Subscription {
  "Messages matching the topic filter (MQTT syntax), live or resumed after since."
  messages(filter: String!, since: String): Message!
}

type Message {
  id: ID!
  topic: String!
  "The payload as text; invalid UTF-8 bytes are replaced, use dataBase64 for binary payloads."
  data: String!
  dataBase64: String!
  cursor: String!
  "RFC 3339 with nanoseconds, UTC."
  time: String!
}
`

// BrokerResolver is the root resolver of BrokerSchema. Every operation is
// authorized with Auth.Check against the identity in the context
// (transport.IdentityFrom). Create it with NewBrokerResolver.
//
// Query.messages and Subscription.messages share a name, so the root has
// one resolver per operation type (graph-gophers calls Query, Mutation and
// Subscription to find them).
type BrokerResolver struct {
	q *QueryResolver
	m *MutationResolver
	s *SubscriptionResolver
}

// QueryResolver resolves the Query type of BrokerSchema.
type QueryResolver struct{ r *brokerRoot }

// MutationResolver resolves the Mutation type of BrokerSchema.
type MutationResolver struct{ r *brokerRoot }

// SubscriptionResolver resolves the Subscription type of BrokerSchema.
type SubscriptionResolver struct{ r *brokerRoot }

type brokerRoot struct {
	broker pubsub.Broker
	auth   *transport.Auth
}

// NewBrokerResolver returns the root resolver for BrokerSchema. auth may be
// nil (everything allowed).
func NewBrokerResolver(b pubsub.Broker, auth *transport.Auth) *BrokerResolver {
	r := &brokerRoot{broker: b, auth: auth}
	return &BrokerResolver{q: &QueryResolver{r}, m: &MutationResolver{r}, s: &SubscriptionResolver{r}}
}

// Query returns the resolver of the Query type.
func (b *BrokerResolver) Query() *QueryResolver { return b.q }

// Mutation returns the resolver of the Mutation type.
func (b *BrokerResolver) Mutation() *MutationResolver { return b.m }

// Subscription returns the resolver of the Subscription type.
func (b *BrokerResolver) Subscription() *SubscriptionResolver { return b.s }

// NewBrokerSchema parses BrokerSchema over b, with a SubscribeResolverTimeout
// of 10 s, resolver panics not logged (graph-gophers' default logs them
// through the standard log package) and then the given extra options, which
// may override both (graphql.Logger).
func NewBrokerSchema(b pubsub.Broker, auth *transport.Auth, opts ...graphql.SchemaOpt) (*graphql.Schema, error) {
	silent := gqllog.LoggerFunc(func(context.Context, any) {})
	opts = append([]graphql.SchemaOpt{graphql.SubscribeResolverTimeout(10 * time.Second), graphql.Logger(silent)}, opts...)
	return graphql.ParseSchema(BrokerSchema, NewBrokerResolver(b, auth), opts...)
}

// Messages resolves Query.messages from the broker's history.
func (q *QueryResolver) Messages(ctx context.Context, args struct {
	Topic string
	Since *string
	Limit *int32
}) ([]*MessageResolver, error) {
	r := q.r
	if err := r.auth.Check(ctx, transport.IdentityFrom(ctx), transport.ActionHistory, args.Topic); err != nil {
		return nil, err
	}
	hr, ok := r.broker.(pubsub.HistoryReader)
	if !ok {
		return nil, fmt.Errorf("%w: this broker keeps no history", pubsub.ErrNotSupported)
	}
	o := pubsub.HistoryOptions{}
	if args.Since != nil {
		o.Since = *args.Since
	}
	if args.Limit != nil {
		if *args.Limit < 0 || *args.Limit > 1000 {
			return nil, fmt.Errorf("%w: limit must be between 0 and 1000", transport.ErrBadRequest)
		}
		o.Limit = int(*args.Limit)
	}
	page, err := hr.History(ctx, args.Topic, o)
	if err != nil {
		return nil, err
	}
	// Take each message's share of the operation's response budget, so
	// that many aliases of this field cannot together build a result
	// far over it: the page ends where the budget does.
	budget := graphqlsub.ResponseBudget(ctx)
	out := make([]*MessageResolver, 0, len(page.Messages))
	for _, m := range page.Messages {
		if !budget.Take(resultShare(m)) {
			if len(out) == 0 && len(page.Messages) > 0 {
				return nil, fmt.Errorf("%w: the result would exceed the response budget: ask for fewer messages or fields", transport.ErrTooLarge)
			}
			break
		}
		out = append(out, &MessageResolver{m: m})
	}
	return out, nil
}

// resultShare estimates what m adds to a result: its payload twice (as
// data and as dataBase64, 4/3 of it) and its other fields.
func resultShare(m *pubsub.Message) int64 {
	return int64(2*len(m.Data) + len(m.Topic) + len(m.ID) + len(m.Cursor) + 128)
}

// Publish resolves Mutation.publish.
func (mr *MutationResolver) Publish(ctx context.Context, args struct{ Topic, Data string }) (*MessageResolver, error) {
	r := mr.r
	if err := r.auth.Check(ctx, transport.IdentityFrom(ctx), transport.ActionPublish, args.Topic); err != nil {
		return nil, err
	}
	if err := pubsub.ValidateTopic(args.Topic); err != nil {
		return nil, err
	}
	m := pubsub.Message{Topic: args.Topic, Data: []byte(args.Data)}
	rc, err := r.broker.Publish(ctx, m)
	if err != nil {
		return nil, err
	}
	m.ID, m.Cursor, m.Time = rc.ID, rc.Cursor, rc.Time
	return &MessageResolver{m: &m}, nil
}

// ShareLive is a graphqlsub.Options.ShareSubscriptions for BrokerSchema:
// it shares the subscriptions that start live, that is whose document
// does not mention since (a resume must replay history from its own
// cursor, so it runs alone). BrokerSchema's subscription depends on
// nothing else a subscriber brings but the identity, which the Handler
// compares anyway, and its Message fields only on the message. Sharing an
// execution means Auth.Check runs once for the identity, when the first
// subscriber starts it, not for each one that joins.
func ShareLive(_ context.Context, req *graphqlsub.Request) bool {
	return !strings.Contains(req.Query, "since")
}

// Messages resolves Subscription.messages with graphqlsub.Stream.
func (s *SubscriptionResolver) Messages(ctx context.Context, args struct {
	Filter string
	Since  *string
}) (<-chan *MessageResolver, error) {
	r := s.r
	if err := r.auth.Check(ctx, transport.IdentityFrom(ctx), transport.ActionSubscribe, args.Filter); err != nil {
		return nil, err
	}
	o := &graphqlsub.StreamOptions{}
	if args.Since != nil {
		o.Since = *args.Since
	}
	return graphqlsub.Stream(ctx, r.broker, args.Filter, o, func(ev graphqlsub.Event) *MessageResolver {
		return &MessageResolver{m: ev.Message, err: ev.Err}
	})
}

// MessageResolver resolves the Message type: a message, or the in-band
// error of a stream (every field then returns it).
type MessageResolver struct {
	m   *pubsub.Message
	err *graphqlsub.StreamError
}

// ID resolves Message.id.
func (m *MessageResolver) ID() (graphql.ID, error) {
	if m.err != nil {
		return "", m.err
	}
	return graphql.ID(m.m.ID), nil
}

// Topic resolves Message.topic.
func (m *MessageResolver) Topic() (string, error) {
	if m.err != nil {
		return "", m.err
	}
	return m.m.Topic, nil
}

// Data resolves Message.data.
func (m *MessageResolver) Data() (string, error) {
	if m.err != nil {
		return "", m.err
	}
	if !utf8.Valid(m.m.Data) {
		return string([]rune(string(m.m.Data))), nil
	}
	return string(m.m.Data), nil
}

// DataBase64 resolves Message.dataBase64.
func (m *MessageResolver) DataBase64() (string, error) {
	if m.err != nil {
		return "", m.err
	}
	return base64.StdEncoding.EncodeToString(m.m.Data), nil
}

// Cursor resolves Message.cursor.
func (m *MessageResolver) Cursor() (string, error) {
	if m.err != nil {
		return "", m.err
	}
	return m.m.Cursor, nil
}

// Time resolves Message.time.
func (m *MessageResolver) Time() (string, error) {
	if m.err != nil {
		return "", m.err
	}
	return m.m.Time.UTC().Format(time.RFC3339Nano), nil
}
