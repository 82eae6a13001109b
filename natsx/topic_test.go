package natsx_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestTopicToSubject(t *testing.T) {
	for topic, want := range map[string]string{
		"a/b":            "p.a.b",
		"$sys/x":         "p.$sys.x",
		"a//b":           "p.a.%.b",
		"a/":             "p.a.%",
		"/":              "p.%.%",
		"v1.2/x y":       "p.v1%2E2.x%20y",
		"a*/>b/50%":      "p.a%2A.%3Eb.50%25",
		"üñí/ç":          "p.üñí.ç",
		"tab\there/\x7f": "p.tab%09here.%7F",
	} {
		got, err := natsx.TopicToSubject("p", topic)
		require.NoError(t, err, topic)
		require.Equal(t, want, got, topic)
		back, err := natsx.SubjectToTopic("p", got)
		require.NoError(t, err, got)
		require.Equal(t, topic, back)
	}
	for _, topic := range []string{"", "a/+", "a/#", "x\x00y"} {
		_, err := natsx.TopicToSubject("p", topic)
		require.ErrorIs(t, err, pubsub.ErrInvalidTopic, topic)
	}
	for _, subject := range []string{"p", "p.", "q.a", "p.a..b", "p.a/b", "p.a*", "p.>", "p.%2", "p.%41", "p.%zz", "p.a+", "p.#"} {
		_, err := natsx.SubjectToTopic("p", subject)
		require.ErrorIs(t, err, pubsub.ErrInvalidTopic, subject)
	}
}

func TestFilterToSubjects(t *testing.T) {
	for filter, want := range map[string][]string{
		"a/b":   {"p.a.b"},
		"a/+":   {"p.a.*"},
		"+/+/c": {"p.*.*.c"},
		"#":     {"p.>"},
		"a/#":   {"p.a", "p.a.>"}, // MQTT's a/# also matches a
		"a/+/#": {"p.a.*", "p.a.*.>"},
		"a.b/#": {"p.a%2Eb", "p.a%2Eb.>"},
		"a//+":  {"p.a.%.*"},
	} {
		_, got, err := natsx.FilterToSubjects("p", filter)
		require.NoError(t, err, filter)
		require.Equal(t, want, got, filter)
	}
	for _, filter := range []string{"", "a/#/b", "a+", "#a", "a/b#"} {
		_, _, err := natsx.FilterToSubjects("p", filter)
		require.ErrorIs(t, err, pubsub.ErrInvalidFilter, filter)
	}
}

// TestParentLevel: MQTT's "a/#" receives "a" itself, live and on resume,
// and a topic with NATS's special characters arrives intact.
func TestParentLevel(t *testing.T) {
	sp := newSpace(t)
	b := sp.broker()
	c := ctx(t)
	p := "t" + pubsub.NewID()
	sub, err := b.Subscribe(c, p+"/a/#", nil)
	require.NoError(t, err)
	defer sub.Close()
	r0, err := b.Publish(c, pubsub.Message{Topic: p + "/a", Data: []byte("parent")})
	require.NoError(t, err)
	for _, topic := range []string{p + "/ab", p + "/b/a", p} {
		_, err = b.Publish(c, pubsub.Message{Topic: topic, Data: []byte("no")})
		require.NoError(t, err)
	}
	_, err = b.Publish(c, pubsub.Message{Topic: p + "/a/x.y z*>", Data: []byte("child")})
	require.NoError(t, err)
	require.Equal(t, "parent", string(recv(t, sub).Data))
	m := recv(t, sub)
	require.Equal(t, "child", string(m.Data))
	require.Equal(t, p+"/a/x.y z*>", m.Topic)

	// The same on resume, from the stream.
	since := pubsub.Cursor{Epoch: b.Epoch(), Seq: mustSeq(t, r0.Cursor) - 1}.String()
	re, err := b.Subscribe(c, p+"/a/#", &pubsub.SubscribeOptions{Since: since})
	require.NoError(t, err)
	defer re.Close()
	require.False(t, re.Gap())
	require.Equal(t, "parent", string(recv(t, re).Data))
	require.Equal(t, "child", string(recv(t, re).Data))
	page, err := b.History(c, p+"/a/#", pubsub.HistoryOptions{Since: since})
	require.NoError(t, err)
	require.Len(t, page.Messages, 2)
}

func mustSeq(t *testing.T, cursor string) uint64 {
	c, err := pubsub.ParseCursor(cursor)
	require.NoError(t, err)
	return c.Seq
}
