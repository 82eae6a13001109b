package grpcx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
)

var fuzzProcedures = []string{"Publish", "Subscribe", "PublishStream", "Session", "Request"}

var fuzzTypes = []string{
	"application/proto", "application/json",
	"application/grpc", "application/grpc+json", "application/grpc-web+proto",
	"application/connect+proto", "application/connect+json",
}

// grpcFrame wraps msg in the 5-byte length prefix of gRPC and streaming
// Connect.
func grpcFrame(flags byte, msg []byte) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// FuzzHandler feeds arbitrary request bodies to every procedure with every
// content type. The handler must not panic, hide an error of its own as
// internal, or let a plain error surface as Unknown.
func FuzzHandler(f *testing.F) {
	enc := func(m proto.Message) []byte { b, _ := proto.Marshal(m); return b }
	seeds := [][]byte{
		enc(&pb.PublishRequest{Topic: "a/b", Data: []byte("x"), Header: map[string]string{"k": "v"}}),
		enc(&pb.SubscribeRequest{Filters: []string{"a/#", "+/b"}, Since: "abc-1"}),
		enc(&pb.PublishStreamRequest{Message: &pb.PublishRequest{Topic: "a"}}),
		enc(&pb.SessionRequest{Id: "1", Command: &pb.SessionRequest_Subscribe{Subscribe: &pb.SessionSubscribe{Filter: "#", ManualAck: true}}}),
		enc(&pb.RequestRequest{Topic: "svc"}),
		[]byte(`{"topic":"a","data":"aGk=","header":{"k":"v"}}`),
		[]byte(`{"filters":["a/#"],"since":"x-1"}`),
		{0xff, 0xff, 0xff, 0xff, 0x0f},
		{},
	}
	for i, s := range seeds {
		for p := range fuzzProcedures {
			f.Add(uint8(p), uint8(i%len(fuzzTypes)), true, s)
			f.Add(uint8(p), uint8(i%len(fuzzTypes)), false, grpcFrame(0, s))
		}
	}
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: 100})
	defer b.Close()
	_, h := grpcx.NewHandler(b, &grpcx.Options{ReadLimit: 1 << 16, RequestTimeout: time.Millisecond})
	defer h.Close()
	f.Fuzz(func(t *testing.T, proc, ctype uint8, raw bool, body []byte) {
		p := fuzzProcedures[int(proc)%len(fuzzProcedures)]
		ct := fuzzTypes[int(ctype)%len(fuzzTypes)]
		ctx := context.Background()
		if p != "Publish" && p != "PublishStream" {
			// Streams that parse would wait for messages: let them end at once.
			c, cancel := context.WithCancel(ctx)
			cancel()
			ctx = c
		}
		req := httptest.NewRequestWithContext(ctx, "POST", "/switchboard.pubsub.v1.PubSubService/"+p, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if ct == "application/grpc" || ct == "application/grpc+json" {
			req.ProtoMajor, req.ProtoMinor, req.Proto = 2, 0, "HTTP/2.0"
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		// Connect reports broken framing as Internal, as the gRPC spec asks;
		// what must not appear is an error of ours hidden as "internal
		// error" (see toError) or a plain error surfacing as Unknown.
		res := w.Result()
		msgs := []string{res.Trailer.Get("Grpc-Message"), res.Header.Get("Grpc-Message"), w.Body.String()}
		for _, m := range msgs {
			if strings.Contains(m, "internal error") || strings.Contains(m, "internal%20error") {
				t.Fatalf("%s %s: %q", p, ct, m)
			}
		}
		for _, s := range []string{res.Trailer.Get("Grpc-Status"), res.Header.Get("Grpc-Status")} {
			if s == "2" {
				t.Fatalf("%s %s: grpc-status unknown: %q", p, ct, msgs)
			}
		}
		if bytes.Contains(w.Body.Bytes(), []byte(`"code":"unknown"`)) {
			t.Fatalf("%s %s: %s", p, ct, w.Body.Bytes())
		}
	})
}
