package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/switchboard-go/switchboard/examples/notes/notespb"
	"github.com/switchboard-go/switchboard/examples/notes/notespb/notespbconnect"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Limits of the service.
const (
	maxTitle       = 200
	maxContent     = 64 << 10
	defaultPage    = 50
	maxPage        = 1000
	maxBatch       = 1000
	notesTopic     = "notes/"  // each new note is published to notes/<id>
	notesFilter    = "notes/+" // what StreamNotes listens to
	noteBufferSize = 256       // per StreamNotes call; a client that falls further behind is cut off
)

// noteService implements the guide's NoteService. Notes are kept in memory;
// every new note is also published on the broker, which is how StreamNotes
// calls hear about notes created by other clients. It is safe for
// concurrent use.
type noteService struct {
	notespbconnect.UnimplementedNoteServiceHandler
	broker pubsub.Broker

	mu    sync.RWMutex
	notes []*notespb.Note // oldest first; a stored note is never modified
	index map[string]int  // id → position in notes
}

var _ notespbconnect.NoteServiceHandler = (*noteService)(nil)

func newNoteService(b pubsub.Broker) *noteService {
	return &noteService{broker: b, index: make(map[string]int)}
}

// CreateNote stores one note and announces it.
func (s *noteService) CreateNote(ctx context.Context, req *connect.Request[notespb.CreateNoteRequest]) (*connect.Response[notespb.Note], error) {
	n, err := s.create(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(n), nil
}

func (s *noteService) create(ctx context.Context, req *notespb.CreateNoteRequest) (*notespb.Note, error) {
	if err := validate(req); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	n := &notespb.Note{Id: newID(), Title: req.GetTitle(), Content: req.GetContent(), CreatedAt: time.Now().UnixMilli()}
	data, err := protojson.Marshal(n)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	// Store first, then publish: a StreamNotes call subscribes before it
	// reads the store, so it sees the note in one or the other.
	s.mu.Lock()
	s.index[n.Id] = len(s.notes)
	s.notes = append(s.notes, n)
	s.mu.Unlock()
	msg := pubsub.Message{Topic: notesTopic + n.Id, Data: data, Header: map[string]string{"content-type": "application/json"}}
	if _, err := s.broker.Publish(ctx, msg); err != nil {
		s.remove(n.Id)
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("failed to announce the note: %w", err))
	}
	return n, nil
}

func (s *noteService) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[id]
	if !ok {
		return
	}
	s.notes = append(s.notes[:i:i], s.notes[i+1:]...)
	delete(s.index, id)
	for j := i; j < len(s.notes); j++ {
		s.index[s.notes[j].Id] = j
	}
}

func validate(req *notespb.CreateNoteRequest) error {
	switch t := req.GetTitle(); {
	case strings.TrimSpace(t) == "":
		return errors.New("title is required")
	case len(t) > maxTitle:
		return fmt.Errorf("title is longer than %d bytes", maxTitle)
	case len(req.GetContent()) > maxContent:
		return fmt.Errorf("content is longer than %d bytes", maxContent)
	case !utf8.ValidString(t) || !utf8.ValidString(req.GetContent()):
		return errors.New("title and content must be UTF-8")
	}
	return nil
}

// ListNotes streams one page of stored notes, oldest first.
func (s *noteService) ListNotes(ctx context.Context, req *connect.Request[notespb.ListNotesRequest], stream *connect.ServerStream[notespb.Note]) error {
	size := int(req.Msg.GetPageSize())
	switch {
	case size < 0:
		return connect.NewError(connect.CodeInvalidArgument, errors.New("page_size must not be negative"))
	case size == 0:
		size = defaultPage
	case size > maxPage:
		size = maxPage
	}
	s.mu.RLock()
	start := 0
	if tok := req.Msg.GetPageToken(); tok != "" {
		i, ok := s.index[tok]
		if !ok {
			s.mu.RUnlock()
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("unknown page_token %q: pass the id of the last note you received", tok))
		}
		start = i + 1
	}
	page := append([]*notespb.Note(nil), s.notes[start:min(start+size, len(s.notes))]...)
	s.mu.RUnlock()
	for _, n := range page {
		if err := stream.Send(n); err != nil {
			return err
		}
	}
	return nil
}

// BatchCreateNotes stores every note the client sends and reports which
// were created; an invalid note counts as a failure and does not stop the
// batch.
func (s *noteService) BatchCreateNotes(ctx context.Context, stream *connect.ClientStream[notespb.CreateNoteRequest]) (*connect.Response[notespb.BatchCreateResponse], error) {
	res := &notespb.BatchCreateResponse{}
	for stream.Receive() {
		if res.SuccessCount+res.FailureCount >= maxBatch {
			return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("a batch holds at most %d notes", maxBatch))
		}
		n, err := s.create(ctx, stream.Msg())
		if err != nil {
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				return nil, err
			}
			res.FailureCount++
			continue
		}
		res.NoteIds = append(res.NoteIds, n.Id)
		res.SuccessCount++
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

// StreamNotes answers each query with the stored notes that match it, then
// sends every new note that matches the latest query, once. A query with
// no filter set matches every note.
func (s *noteService) StreamNotes(ctx context.Context, stream *connect.BidiStream[notespb.NoteQuery, notespb.Note]) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscribe before the first read of the store, so no note falls
	// between the stored snapshot and the live feed.
	sub, err := s.broker.Subscribe(ctx, notesFilter, &pubsub.SubscribeOptions{Buffer: noteBufferSize, NoRetained: true})
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("failed to subscribe: %w", err))
	}
	defer sub.Close()

	// The reader goroutine ends when the client closes its side, the call is
	// cancelled, or (if this handler returns first) when connect closes the
	// request body after the handler returns.
	queries := make(chan *notespb.NoteQuery)
	readErr := make(chan error, 1)
	go func() {
		for {
			q, err := stream.Receive()
			if err != nil {
				readErr <- err
				return
			}
			select {
			case queries <- q:
			case <-ctx.Done():
				return
			}
		}
	}()

	var (
		query *notespb.NoteQuery
		sent  map[string]bool // ids sent since the latest query
	)
	for {
		select {
		case q := <-queries:
			// An empty NoteQuery (no filter set) asks for every note:
			// that is what protobufjs sends for the guide's
			// {filter: {title_contains: …}}, "filter" being the oneof's
			// name rather than a field.
			query, sent = q, make(map[string]bool)
			for _, n := range s.matching(q) {
				if err := stream.Send(n); err != nil {
					return err
				}
				sent[n.Id] = true
			}
		case m, ok := <-sub.C():
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(sub.Err(), pubsub.ErrSlowConsumer) {
					return connect.NewError(connect.CodeResourceExhausted, errors.New("the client fell too far behind"))
				}
				return connect.NewError(connect.CodeUnavailable, fmt.Errorf("note feed ended: %w", sub.Err()))
			}
			var n notespb.Note
			if query == nil || protojson.Unmarshal(m.Data, &n) != nil || sent[n.Id] || !matches(query, &n) {
				continue
			}
			if err := stream.Send(&n); err != nil {
				return err
			}
			sent[n.Id] = true
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil // the client is done
			}
			return err
		}
	}
}

// matching returns the stored notes that match q, oldest first.
func (s *noteService) matching(q *notespb.NoteQuery) []*notespb.Note {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id, ok := q.GetFilter().(*notespb.NoteQuery_Id); ok {
		if i, found := s.index[id.Id]; found {
			return []*notespb.Note{s.notes[i]}
		}
		return nil
	}
	var out []*notespb.Note
	for _, n := range s.notes {
		if matches(q, n) {
			out = append(out, n)
		}
	}
	return out
}

func matches(q *notespb.NoteQuery, n *notespb.Note) bool {
	switch f := q.GetFilter().(type) {
	case *notespb.NoteQuery_Id:
		return n.GetId() == f.Id
	case *notespb.NoteQuery_TitleContains:
		return strings.Contains(strings.ToLower(n.GetTitle()), strings.ToLower(f.TitleContains))
	case *notespb.NoteQuery_CreatedAfter:
		return n.GetCreatedAt() > f.CreatedAfter
	}
	return true // no filter: every note
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
