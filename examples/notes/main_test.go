package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/switchboard-go/switchboard/examples/notes/notespb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start runs the example on a random port and returns its address.
func start(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, io.Discard, func(a string) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case a := <-addrc:
		return a
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

func TestGRPCClient(t *testing.T) {
	addr := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	c := notespb.NewNoteServiceClient(conn)

	// Unary, including a clear error for bad input.
	first, err := c.CreateNote(ctx, &notespb.CreateNoteRequest{Title: "groceries", Content: "milk"})
	require.NoError(t, err)
	require.NotEmpty(t, first.Id)
	require.Equal(t, "groceries", first.Title)
	_, err = c.CreateNote(ctx, &notespb.CreateNoteRequest{Title: "  "})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)

	// Client stream: one invalid note in the batch is counted, not fatal.
	batch, err := c.BatchCreateNotes(ctx)
	require.NoError(t, err)
	for _, title := range []string{"alpha", "", "beta"} {
		require.NoError(t, batch.Send(&notespb.CreateNoteRequest{Title: title}))
	}
	res, err := batch.CloseAndRecv()
	require.NoError(t, err)
	require.EqualValues(t, 2, res.SuccessCount)
	require.EqualValues(t, 1, res.FailureCount)
	require.Len(t, res.NoteIds, 2)

	// Server stream, paged.
	list := func(size int32, token string) []string {
		st, err := c.ListNotes(ctx, &notespb.ListNotesRequest{PageSize: size, PageToken: token})
		require.NoError(t, err)
		var titles []string
		for {
			n, err := st.Recv()
			if err == io.EOF {
				return titles
			}
			require.NoError(t, err)
			titles = append(titles, n.Title)
		}
	}
	require.Equal(t, []string{"groceries", "alpha", "beta"}, list(0, ""))
	require.Equal(t, []string{"alpha"}, list(1, first.Id))

	// Bidi: a query answers from the store, then new notes created by
	// another client arrive live, filtered by the latest query.
	bidi, err := c.StreamNotes(ctx)
	require.NoError(t, err)
	require.NoError(t, bidi.Send(&notespb.NoteQuery{Filter: &notespb.NoteQuery_TitleContains{TitleContains: "ALPHA"}}))
	n, err := bidi.Recv()
	require.NoError(t, err)
	require.Equal(t, "alpha", n.Title)

	_, err = c.CreateNote(ctx, &notespb.CreateNoteRequest{Title: "not this one"})
	require.NoError(t, err)
	live, err := c.CreateNote(ctx, &notespb.CreateNoteRequest{Title: "alpha two"})
	require.NoError(t, err)
	n, err = bidi.Recv()
	require.NoError(t, err)
	require.Equal(t, live.Id, n.Id, "the first live note must be the matching one")

	require.NoError(t, bidi.Send(&notespb.NoteQuery{Filter: &notespb.NoteQuery_Id{Id: first.Id}}))
	n, err = bidi.Recv()
	require.NoError(t, err)
	require.Equal(t, first.Id, n.Id)
	require.NoError(t, bidi.CloseSend())
	_, err = bidi.Recv()
	require.Equal(t, io.EOF, err)

	// A query without a filter (what protobufjs encodes for the guide's
	// {filter: {title_contains: 'Note'}}) asks for every note.
	all, err := c.StreamNotes(ctx)
	require.NoError(t, err)
	require.NoError(t, all.Send(&notespb.NoteQuery{}))
	var titles []string
	for range 5 {
		n, err := all.Recv()
		require.NoError(t, err)
		titles = append(titles, n.Title)
	}
	require.Equal(t, []string{"groceries", "alpha", "beta", "not this one", "alpha two"}, titles)
	require.NoError(t, all.CloseSend())
	_, err = all.Recv()
	require.Equal(t, io.EOF, err)
}

// TestConnectJSON is what the README's curl command does: Connect's unary
// protocol with JSON over HTTP/1.1.
func TestConnectJSON(t *testing.T) {
	addr := start(t)
	post := func(body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/notes.NoteService/CreateNote", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := post(`{"title":"hello","content":"from curl"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"title":"hello"`)
	require.Contains(t, body, `"createdAt":"`)

	code, body = post(`{"title":""}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, `"code":"invalid_argument"`)
	require.Contains(t, body, "title is required")
}
