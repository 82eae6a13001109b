package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/eclipse/paho.golang/paho"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/ws"
)

// restPub publishes with POST /topics/{topic} and the Idempotency-Key
// header.
type restPub struct {
	h  *hub
	hc *http.Client
	tr *http.Transport
}

func dialREST(_ context.Context, h *hub) (pubConn, error) {
	tr := &http.Transport{}
	return &restPub{h: h, hc: &http.Client{Transport: tr}, tr: tr}, nil
}

func (r *restPub) publish(ctx context.Context, topic, key string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.h.url("/topics/"+topic), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("rest: %s: %.200s", resp.Status, body)
	}
	return nil
}

func (r *restPub) close() { r.tr.CloseIdleConnections() }

// wsPub publishes switchboard.v1 publish frames with the "key" field over
// a plain WebSocket (coder/websocket): ws.Client.Publish has no key.
type wsPub struct {
	conn *websocket.Conn
	n    atomic.Int64
}

func dialWS(ctx context.Context, h *hub) (pubConn, error) {
	c, _, err := websocket.Dial(ctx, "ws://"+h.httpAddr+"/ws", &websocket.DialOptions{Subprotocols: []string{ws.Subprotocol}})
	if err != nil {
		return nil, err
	}
	return &wsPub{conn: c}, nil
}

func (w *wsPub) publish(ctx context.Context, topic, key string, data []byte) error {
	id := "p" + strconv.FormatInt(w.n.Add(1), 10)
	f := map[string]any{"type": "publish", "id": id, "topic": topic, "data": jsonRaw(data), "key": key}
	if err := wsjson.Write(ctx, w.conn, f); err != nil {
		return err
	}
	for {
		var r struct {
			Type, ID, Code, Message string
		}
		if err := wsjson.Read(ctx, w.conn, &r); err != nil {
			return err
		}
		if r.ID != id {
			continue // the answer to an attempt that timed out
		}
		switch r.Type {
		case "ack":
			return nil
		case "error":
			return fmt.Errorf("ws: %s: %s", r.Code, r.Message)
		}
	}
}

func (w *wsPub) close() { _ = w.conn.CloseNow() }

// jsonRaw lets a JSON payload go into a frame verbatim.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

// grpcPub publishes with the generated Connect client over the gRPC
// protocol, with PublishRequest.key (D2).
type grpcPub struct {
	c  pubsubv1connect.PubSubServiceClient
	tr *http.Transport
}

func dialGRPC(_ context.Context, h *hub) (pubConn, error) {
	hc, tr := h2c()
	return &grpcPub{c: pubsubv1connect.NewPubSubServiceClient(hc, h.url(""), connect.WithGRPC()), tr: tr}, nil
}

func (g *grpcPub) publish(ctx context.Context, topic, key string, data []byte) error {
	_, err := g.c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: topic, Data: data, Key: key}))
	return err
}

func (g *grpcPub) close() { g.tr.CloseIdleConnections() }

// mqttPub publishes QoS 1 with the user property sb-id (the key) to the
// hub's MQTT server (paho.golang).
type mqttPub struct {
	conn net.Conn
	c    *paho.Client
}

func dialMQTT(ctx context.Context, h *hub, clientID string) (pubConn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", h.mqttAddr)
	if err != nil {
		return nil, err
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 5}); err != nil {
		_ = conn.Close()
		<-c.Done()
		return nil, err
	}
	return &mqttPub{conn: conn, c: c}, nil
}

func (m *mqttPub) publish(ctx context.Context, topic, key string, data []byte) error {
	r, err := m.c.Publish(ctx, &paho.Publish{Topic: topic, Payload: data, QoS: 1,
		Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "sb-id", Value: key}}}})
	if err != nil {
		return err
	}
	if r != nil && r.ReasonCode >= 0x80 {
		return fmt.Errorf("mqtt: PUBACK reason 0x%02x", r.ReasonCode)
	}
	return nil
}

func (m *mqttPub) close() {
	_ = m.conn.Close()
	<-m.c.Done()
}
