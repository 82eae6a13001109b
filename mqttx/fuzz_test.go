package mqttx_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// pipeListener hands net.Pipe connections to Server.Serve.
type pipeListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (l *pipeListener) dial() net.Conn {
	c, s := net.Pipe()
	select {
	case l.ch <- s:
	case <-l.done:
		_ = s.Close()
	}
	return c
}

func encode(t testing.TB, version byte, pks ...packets.Packet) []byte {
	var buf bytes.Buffer
	for _, pk := range pks {
		pk.ProtocolVersion = version
		var err error
		switch pk.FixedHeader.Type {
		case packets.Connect:
			err = pk.ConnectEncode(&buf)
		case packets.Publish:
			err = pk.PublishEncode(&buf)
		case packets.Subscribe:
			err = pk.SubscribeEncode(&buf)
		case packets.Unsubscribe:
			err = pk.UnsubscribeEncode(&buf)
		case packets.Pubrel:
			err = pk.PubrelEncode(&buf)
		case packets.Puback:
			err = pk.PubackEncode(&buf)
		case packets.Disconnect:
			err = pk.DisconnectEncode(&buf)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func connectPacket(id string, will bool) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 30}}
	if will {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload, pk.Connect.WillQos = true, "will/x", []byte("w"), 1
	}
	return pk
}

// FuzzServerPackets feeds arbitrary bytes to the Server after a valid
// CONNECT (MQTT 3.1.1 or 5): whatever the packets, the server must not
// panic, and must keep serving other clients.
func FuzzServerPackets(f *testing.F) {
	sub := func(id uint16, filters ...string) packets.Packet {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id}
		for _, fl := range filters {
			pk.Filters = append(pk.Filters, packets.Subscription{Filter: fl, Qos: 2, RetainHandling: 1})
		}
		return pk
	}
	pub := func(id uint16, qos byte, topic string, retain bool) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
			PacketID: id, TopicName: topic, Payload: []byte("p"),
			Properties: packets.Properties{User: []packets.UserProperty{{Key: "sb-id", Val: "x"}, {Key: "sb-time", Val: "bad"}},
				ResponseTopic: "r", CorrelationData: []byte{0xff}}}
	}
	for _, v := range []byte{4, 5} {
		f.Add(v, encode(f, v, sub(1, "a/+", "$share/g/b/#", "a/#/b", "$share//x", "$share/g")))
		f.Add(v, encode(f, v, sub(1, "t"), pub(2, 1, "t", true), pub(3, 2, "t", false), pub(0, 0, "t", false)))
		f.Add(v, encode(f, v, pub(4, 1, "a/+", false), pub(5, 2, "$SYS/x", false), pub(6, 1, "$reply/x", false)))
		f.Add(v, encode(f, v,
			packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: 7,
				Filters: packets.Subscriptions{{Filter: "t"}, {Filter: "nope"}}},
			packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 99},
			packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: 98}))
		f.Add(v, encode(f, v, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ReasonCode: 0x04}))
	}
	f.Add(byte(4), []byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Add(byte(5), []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x01, '#'})

	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	srv, err := mqttx.NewServer(mem, &mqttx.ServerOptions{WriteTimeout: 200 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		if err := <-served; !errors.Is(err, mqttx.ErrServerClosed) {
			f.Errorf("Serve: %v", err)
		}
	}()

	f.Fuzz(func(t *testing.T, version byte, data []byte) {
		if version != 4 {
			version = 5
		}
		c := ln.dial()
		defer c.Close()
		// Read everything the server says, so its writes never block.
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			buf := make([]byte, 4096)
			for {
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(encode(t, version, connectPacket("fuzz", true)))
		_, _ = c.Write(data)
		<-drained
	})

	// Still serving.
	c := ln.dial()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ctx
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(encode(f, 5, connectPacket("after", false))); err != nil {
		f.Fatalf("server stopped serving: %v", err)
	}
	hdr := make([]byte, 2)
	if _, err := c.Read(hdr); err != nil || hdr[0] != 0x20 {
		f.Fatalf("no CONNACK after fuzzing: %v %x", err, hdr)
	}
}
