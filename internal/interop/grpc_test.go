package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/internal/grpcgo"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
)

// grpcServer serves grpcx (with reflection and health), the REST handler
// and SSE over one broker, on HTTP/1.1 and h2c.
type grpcServer struct {
	b    *pubsub.Memory
	g    *grpcx.Handler
	srv  *httptest.Server
	addr string // host:port
}

func startGRPC(t *testing.T, opts *grpcx.Options) *grpcServer {
	t.Helper()
	s := &grpcServer{b: pubsub.NewMemory(nil)}
	_, s.g = grpcx.NewHandler(s.b, opts)
	mux := http.NewServeMux()
	s.g.Register(mux)
	var auth *transport.Auth
	if opts != nil {
		auth = opts.Auth
	}
	mux.Handle("/topics/", transport.NewRESTHandler(s.b, &transport.RESTOptions{Auth: auth}))
	ev := sse.NewHandler(s.b, &sse.Options{Format: sse.FormatEnvelope, Auth: auth})
	mux.Handle("/events", ev)
	mux.HandleFunc("/blank", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>blank</title>")
	})
	s.srv = httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s.srv.Config.Protocols = p
	s.srv.Start()
	s.addr = strings.TrimPrefix(s.srv.URL, "http://")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ev.Shutdown(ctx)
		_ = s.g.Shutdown(ctx)
		s.srv.Close()
		require.NoError(t, s.g.Close())
		require.NoError(t, s.b.Close())
	})
	return s
}

// dial connects a grpc-go client with prior-knowledge h2c.
func (s *grpcServer) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func grpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func requireStatus(t *testing.T, want codes.Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, status.Code(err), "error: %v", err)
}

// testAuth accepts the tokens "writer" and "reader"; readers may not
// publish, nobody may touch "secret/…".
var testAuth = &transport.Auth{
	Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
		if c.Token == "writer" || c.Token == "reader" {
			return &transport.Identity{Subject: c.Token}, nil
		}
		return nil, errors.New("unknown token")
	},
	Authorize: func(_ context.Context, id *transport.Identity, a transport.Action, topic string) error {
		if strings.HasPrefix(topic, "secret/") || (a == transport.ActionPublish && id.Subject != "writer") {
			return errors.New("no")
		}
		return nil
	},
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// TestGRPCGoClient drives every RPC pattern with grpc-go over h2c.
func TestGRPCGoClient(t *testing.T) {
	s := startGRPC(t, &grpcx.Options{Auth: testAuth, Limits: transport.Limits{MaxMessageBytes: 1000}})
	ctx := withToken(grpcCtx(t), "writer")
	c := grpcgo.NewPubSubServiceClient(s.dial(t))

	t.Run("unary-and-server-stream", func(t *testing.T) {
		st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Filters: []string{"go/+"}})
		require.NoError(t, err)
		ev, err := st.Recv()
		require.NoError(t, err)
		require.NotNil(t, ev.GetOpened())
		data := []byte{0, 0xff, 'x', '\n'}
		res, err := c.Publish(ctx, &pb.PublishRequest{Topic: "go/1", Data: data, Header: map[string]string{"k": "v"}})
		require.NoError(t, err)
		ev, err = st.Recv()
		require.NoError(t, err)
		m := ev.GetMessage()
		require.Equal(t, data, m.GetData())
		require.Equal(t, "go/1", m.GetTopic())
		require.Equal(t, map[string]string{"k": "v"}, m.GetHeader())
		require.Equal(t, res.GetCursor(), m.GetCursor())
		require.Equal(t, res.GetId(), m.GetId())
	})

	t.Run("client-stream", func(t *testing.T) {
		st, err := c.PublishStream(ctx)
		require.NoError(t, err)
		for _, topic := range []string{"go/a", "go/+", "go/b"} {
			require.NoError(t, st.Send(&pb.PublishStreamRequest{Message: &pb.PublishRequest{Topic: topic}}))
		}
		sum, err := st.CloseAndRecv()
		require.NoError(t, err)
		require.EqualValues(t, 2, sum.GetSuccessCount())
		require.EqualValues(t, 1, sum.GetFailureCount())
		require.Equal(t, "invalid_argument", sum.GetFailures()[0].GetCode())
	})

	t.Run("bidi-session", func(t *testing.T) {
		st, err := c.Session(ctx)
		require.NoError(t, err)
		require.NoError(t, st.Send(&pb.SessionRequest{Id: "s", Command: &pb.SessionRequest_Subscribe{Subscribe: &pb.SessionSubscribe{Filter: "jobs", ManualAck: true}}}))
		r, err := st.Recv()
		require.NoError(t, err)
		require.True(t, r.GetResult().GetOk(), r.GetResult().GetError())
		require.NoError(t, st.Send(&pb.SessionRequest{Id: "p", Command: &pb.SessionRequest_Publish{Publish: &pb.PublishRequest{Topic: "jobs", Data: []byte("j")}}}))
		var d *pb.SessionDelivery
		for got := 0; got < 2; got++ {
			r, err := st.Recv()
			require.NoError(t, err)
			if r.GetDelivery() != nil {
				d = r.GetDelivery()
			} else {
				require.True(t, r.GetResult().GetOk())
			}
		}
		require.Equal(t, "j", string(d.GetMessage().GetData()))
		require.NoError(t, st.Send(&pb.SessionRequest{Id: "a", Command: &pb.SessionRequest_Ack{Ack: &pb.SessionAck{SubscriptionId: "s", MessageId: d.GetMessage().GetId()}}}))
		r, err = st.Recv()
		require.NoError(t, err)
		require.True(t, r.GetResult().GetOk())
		require.NoError(t, st.CloseSend())
		_, err = st.Recv()
		require.ErrorIs(t, err, io.EOF)
	})

	t.Run("request-reply", func(t *testing.T) {
		sub, err := s.b.Subscribe(ctx, "svc/upper", nil)
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for m := range sub.C() {
				_, _ = pubsub.Reply(context.Background(), s.b, m, pubsub.Message{Data: bytes.ToUpper(m.Data)})
			}
		}()
		defer func() { _ = sub.Close(); <-done }()
		res, err := c.Request(ctx, &pb.RequestRequest{Topic: "svc/upper", Data: []byte("hi")})
		require.NoError(t, err)
		require.Equal(t, "HI", string(res.GetReply().GetData()))
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = c.Request(short, &pb.RequestRequest{Topic: "svc/none"})
		requireStatus(t, codes.DeadlineExceeded, err)
	})

	t.Run("error-codes", func(t *testing.T) {
		_, err := c.Publish(ctx, &pb.PublishRequest{Topic: "a/#"})
		requireStatus(t, codes.InvalidArgument, err)
		_, err = c.Publish(ctx, &pb.PublishRequest{Topic: "a", Data: make([]byte, 1001)})
		requireStatus(t, codes.ResourceExhausted, err)
		_, err = c.Publish(grpcCtx(t), &pb.PublishRequest{Topic: "a"})
		requireStatus(t, codes.Unauthenticated, err)
		_, err = c.Publish(withToken(grpcCtx(t), "reader"), &pb.PublishRequest{Topic: "a"})
		requireStatus(t, codes.PermissionDenied, err)
		st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Filters: []string{"secret/#"}})
		require.NoError(t, err)
		_, err = st.Recv()
		requireStatus(t, codes.PermissionDenied, err)
		st, err = c.Subscribe(ctx, &pb.SubscribeRequest{Filters: []string{"a/#/b"}})
		require.NoError(t, err)
		_, err = st.Recv()
		requireStatus(t, codes.InvalidArgument, err)
	})

	t.Run("shutdown-trailer", func(t *testing.T) {
		st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Filters: []string{"last"}})
		require.NoError(t, err)
		_, err = st.Recv()
		require.NoError(t, err)
		res, err := c.Publish(ctx, &pb.PublishRequest{Topic: "last"})
		require.NoError(t, err)
		_, err = st.Recv()
		require.NoError(t, err)
		require.NoError(t, s.g.Shutdown(ctx))
		_, err = st.Recv()
		requireStatus(t, codes.Unavailable, err)
		require.Equal(t, []string{res.GetCursor()}, st.Trailer().Get(grpcx.ResumeCursorKey))
		_, err = c.Publish(ctx, &pb.PublishRequest{Topic: "last"})
		requireStatus(t, codes.Unavailable, err)
	})
}

// TestGRPCReflection lists and describes the service the way grpcurl does,
// with grpc-go's reflection client, and checks health.
func TestGRPCReflection(t *testing.T) {
	s := startGRPC(t, nil)
	ctx := grpcCtx(t)
	conn := s.dial(t)
	rc, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	require.NoError(t, err)
	require.NoError(t, rc.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}))
	res, err := rc.Recv()
	require.NoError(t, err)
	var names []string
	for _, sv := range res.GetListServicesResponse().GetService() {
		names = append(names, sv.GetName())
	}
	require.ElementsMatch(t, []string{"switchboard.pubsub.v1.PubSubService", "grpc.reflection.v1.ServerReflection", "grpc.health.v1.Health"}, names)

	require.NoError(t, rc.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "switchboard.pubsub.v1.PubSubService"}}))
	res, err = rc.Recv()
	require.NoError(t, err)
	files := res.GetFileDescriptorResponse().GetFileDescriptorProto()
	require.NotEmpty(t, files)
	var fd descriptorpb.FileDescriptorProto
	require.NoError(t, proto.Unmarshal(files[0], &fd))
	require.Equal(t, "switchboard.pubsub.v1", fd.GetPackage())
	methods := map[string][2]bool{}
	for _, m := range fd.GetService()[0].GetMethod() {
		methods[m.GetName()] = [2]bool{m.GetClientStreaming(), m.GetServerStreaming()}
	}
	require.Equal(t, map[string][2]bool{
		"Publish": {false, false}, "Subscribe": {false, true}, "PublishStream": {true, false},
		"Session": {true, true}, "Request": {false, false},
	}, methods)
	require.NoError(t, rc.CloseSend())

	hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: grpcx.ServiceName})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, hr.GetStatus())
}

// TestGRPCConnectCurl speaks the Connect protocol with curl and JSON, and
// gRPC-Web with plain net/http.
func TestGRPCConnectCurl(t *testing.T) {
	curl := testenv.Command(t, "curl")
	s := startGRPC(t, nil)
	ctx := grpcCtx(t)
	sub, err := s.b.Subscribe(ctx, "curl/#", nil)
	require.NoError(t, err)
	defer sub.Close()

	out, err := exec.CommandContext(ctx, curl, "-sS", "-X", "POST", "-H", "Content-Type: application/json",
		"-d", `{"topic":"curl/1","data":"AAH/","header":{"via":"curl"}}`,
		s.srv.URL+"/switchboard.pubsub.v1.PubSubService/Publish").Output()
	require.NoError(t, err)
	var res struct{ ID, Cursor string }
	require.NoError(t, json.Unmarshal(out, &res), "%s", out)
	m := <-sub.C()
	require.Equal(t, []byte{0, 1, 0xff}, m.Data)
	require.Equal(t, "curl", m.Header["via"])
	require.Equal(t, m.Cursor, res.Cursor)

	out, err = exec.CommandContext(ctx, curl, "-sS", "-w", "\n%{http_code}", "-X", "POST", "-H", "Content-Type: application/json",
		"-d", `{"topic":"curl/+"}`, s.srv.URL+"/switchboard.pubsub.v1.PubSubService/Publish").Output()
	require.NoError(t, err)
	body, code, _ := strings.Cut(string(out), "\n")
	require.Equal(t, "400", code)
	require.Contains(t, body, `"code":"invalid_argument"`)

	// gRPC-Web over HTTP/1.1, framed by hand: one message, then trailers.
	msg, err := proto.Marshal(&pb.PublishRequest{Topic: "curl/web", Data: []byte("w")})
	require.NoError(t, err)
	frame := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	req, err := http.NewRequestWithContext(ctx, "POST", s.srv.URL+"/switchboard.pubsub.v1.PubSubService/Publish", bytes.NewReader(frame))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	hres, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(hres.Body)
	hres.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 200, hres.StatusCode)
	require.GreaterOrEqual(t, len(raw), 5)
	n := int(raw[1])<<24 | int(raw[2])<<16 | int(raw[3])<<8 | int(raw[4])
	var pr pb.PublishResponse
	require.NoError(t, proto.Unmarshal(raw[5:5+n], &pr))
	trailer := raw[5+n:]
	require.Equal(t, byte(0x80), trailer[0], "trailer frame")
	require.Contains(t, strings.ToLower(string(trailer[5:])), "grpc-status: 0")
	m = <-sub.C()
	require.Equal(t, "w", string(m.Data))
	require.Equal(t, pr.GetCursor(), m.Cursor)
	http.DefaultClient.CloseIdleConnections()
}

// TestGRPCCrossTransport: a message published over gRPC reaches SSE and
// REST subscribers byte for byte, and one published over REST reaches a
// gRPC subscriber.
func TestGRPCCrossTransport(t *testing.T) {
	s := startGRPC(t, nil)
	ctx := grpcCtx(t)
	c := grpcgo.NewPubSubServiceClient(s.dial(t))
	payload := []byte{0, 1, 2, 0xfe, 0xff, '\r', '\n', '"'}

	// SSE subscriber first; wait for its sb-open event.
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	req, err := http.NewRequestWithContext(sctx, "GET", s.srv.URL+"/events?topic=cross/%23", nil)
	require.NoError(t, err)
	sres, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer sres.Body.Close()
	require.Equal(t, 200, sres.StatusCode)
	events := bufio.NewReader(sres.Body)
	nextEvent := func() (name, data string) {
		for {
			line, err := events.ReadString('\n')
			require.NoError(t, err)
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "":
				if data != "" {
					return name, data
				}
			case strings.HasPrefix(line, "event:"):
				name = strings.TrimSpace(line[6:])
			case strings.HasPrefix(line, "data:"):
				data += strings.TrimPrefix(line[5:], " ")
			}
		}
	}
	name, _ := nextEvent()
	require.Equal(t, "sb-open", name)

	res, err := c.Publish(ctx, &pb.PublishRequest{Topic: "cross/grpc", Data: payload})
	require.NoError(t, err)
	_, data := nextEvent()
	m, err := transport.DecodeEnvelope([]byte(data))
	require.NoError(t, err)
	require.Equal(t, payload, m.Data, "gRPC → SSE")
	require.Equal(t, res.GetCursor(), m.Cursor)

	hres, err := http.Get(s.srv.URL + "/topics/cross/%23")
	require.NoError(t, err)
	var hist transport.HistoryResponse
	require.NoError(t, json.NewDecoder(hres.Body).Decode(&hist))
	hres.Body.Close()
	require.Len(t, hist.Messages, 1)
	m, err = transport.DecodeEnvelope(hist.Messages[0])
	require.NoError(t, err)
	require.Equal(t, payload, m.Data, "gRPC → REST history")

	st, err := c.Subscribe(ctx, &pb.SubscribeRequest{Filters: []string{"cross/rest"}})
	require.NoError(t, err)
	_, err = st.Recv() // Opened
	require.NoError(t, err)
	pres, err := http.Post(s.srv.URL+"/topics/cross/rest", "application/octet-stream", bytes.NewReader(payload))
	require.NoError(t, err)
	pres.Body.Close()
	require.Equal(t, 200, pres.StatusCode)
	ev, err := st.Recv()
	require.NoError(t, err)
	require.Equal(t, payload, ev.GetMessage().GetData(), "REST → gRPC")
	http.DefaultClient.CloseIdleConnections()
}

// TestGRPCConnectNode runs @connectrpc/connect-node against the handler over
// gRPC-Web and Connect (HTTP/1.1) and gRPC (h2c): a server stream, a
// publish, an error code, and (HTTP/2) a client stream and a session.
func TestGRPCConnectNode(t *testing.T) {
	testenv.NodeDir(t)
	s := startGRPC(t, nil)
	ctx := grpcCtx(t)
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto),
		protodesc.ToFileDescriptorProto(pb.File_switchboard_pubsub_v1_pubsub_proto),
	}}
	b, err := proto.Marshal(set)
	require.NoError(t, err)
	desc := filepath.Join(t.TempDir(), "pubsub.binpb")
	require.NoError(t, os.WriteFile(desc, b, 0o600))

	out := runNode(ctx, t, "grpc-connect-node.mjs", s.srv.URL, desc)
	var results []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r), "line %q", line)
		results = append(results, r)
	}
	require.Len(t, results, 3, "output: %s", out)
	for _, r := range results {
		proto := r["protocol"].(string)
		require.Equal(t, true, r["opened"], proto)
		require.Equal(t, []any{0.0, 1.0, 255.0}, r["data"], proto)
		require.Equal(t, true, r["cursorMatches"], proto)
		require.Equal(t, "invalid_argument", r["invalidCode"], proto)
		if proto == "grpc" {
			require.Equal(t, 2.0, r["streamSuccess"], proto)
			require.Equal(t, "hi", r["sessionData"], proto)
		}
	}
}

// TestGRPCWebChromium: headless Chromium speaks gRPC-Web with fetch, no
// proxy in between, from a same-origin page and, through CORS, from a page
// on another origin.
func TestGRPCWebChromium(t *testing.T) {
	chromium := testenv.Chromium(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>other origin</title>")
	}))
	defer page.Close()
	s := startGRPC(t, &grpcx.Options{CORS: &transport.CORS{AllowedOrigins: []string{page.URL}}})
	pages := []string{s.srv.URL + "/blank", page.URL + "/"} // same origin, other origin
	out := runNode(grpcCtx(t), t, "grpc-chromium.mjs", append([]string{s.srv.URL, chromium}, pages...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, len(pages), "output: %s", out)
	for i, line := range lines {
		var r struct {
			SubscribeStatus int
			Opened          bool
			PublishTrailer  bool
			Data            string
			CursorMatches   bool
			ErrorStatus     string
		}
		require.NoError(t, json.Unmarshal([]byte(line), &r), "output: %s", line)
		require.Equal(t, 200, r.SubscribeStatus, pages[i])
		require.True(t, r.Opened, pages[i])
		require.True(t, r.PublishTrailer, pages[i])
		require.Equal(t, "hi from chromium", r.Data, pages[i])
		require.True(t, r.CursorMatches, pages[i])
		require.Equal(t, "3", r.ErrorStatus, "INVALID_ARGUMENT, readable cross-origin: %s", pages[i])
	}
}
