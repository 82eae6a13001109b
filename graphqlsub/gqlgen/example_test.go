package gqlgen_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/switchboard-go/switchboard/examples/gqlgenchat/chat"
	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gqlgen"
	"github.com/switchboard-go/switchboard/pubsub"
)

// A gqlgen schema (examples/gqlgenchat/chat) served by graphqlsub: two
// messages sent with a mutation over HTTP, then a subscription over
// GraphQL over SSE that resumes after the first one's cursor.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	h := graphqlsub.NewHandler(gqlgen.New(chat.New(broker, nil), nil), nil)
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	post := func(accept, query string, vars map[string]any) (*http.Response, error) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		return http.DefaultClient.Do(req)
	}
	var cursor string
	for _, text := range []string{"hello", "again"} {
		resp, err := post("application/json", `mutation M($c: String!) { sendMessage(roomId: "lobby", sender: "ann", content: $c) { cursor } }`,
			map[string]any{"c": text})
		if err != nil {
			fmt.Println(err)
			return
		}
		var r struct {
			Data struct{ SendMessage struct{ Cursor string } }
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if cursor == "" {
			cursor = r.Data.SendMessage.Cursor
		}
	}

	resp, err := post("text/event-stream", `subscription S($since: String) { messageAdded(roomId: "lobby", since: $since) { sender content } }`,
		map[string]any{"since": cursor})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			fmt.Println(data)
			break
		}
	}
	// Output: {"data":{"messageAdded":{"sender":"ann","content":"again"}}}
}
