package mqttx_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// rawClient speaks MQTT packet by packet (encoded with mochi's packets
// package), for protocol details and malformed input that well-behaved
// client libraries never send.
type rawClient struct {
	t       *testing.T
	c       net.Conn
	r       *bufio.Reader
	version byte
}

func dialRaw(t *testing.T, addr string, version byte) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &rawClient{t: t, c: c, r: bufio.NewReader(c), version: version}
}

// connect sends CONNECT and returns the CONNACK.
func (rc *rawClient) connect(id string, mod func(*packets.Packet)) packets.Packet {
	rc.t.Helper()
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: rc.version,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			ClientIdentifier: id,
			Clean:            true,
			Keepalive:        30,
		},
	}
	if mod != nil {
		mod(&pk)
	}
	rc.send(pk)
	ack := rc.read()
	require.Equal(rc.t, packets.Connack, ack.FixedHeader.Type)
	return ack
}

func (rc *rawClient) send(pk packets.Packet) {
	rc.t.Helper()
	pk.ProtocolVersion = rc.version
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pubrec:
		err = pk.PubrecEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Unsubscribe:
		err = pk.UnsubscribeEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		rc.t.Fatalf("rawClient cannot send packet type %d", pk.FixedHeader.Type)
	}
	require.NoError(rc.t, err)
	rc.write(buf.Bytes())
}

func (rc *rawClient) write(b []byte) {
	rc.t.Helper()
	_ = rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := rc.c.Write(b)
	require.NoError(rc.t, err)
}

// read returns the next packet, failing the test after 5 s.
func (rc *rawClient) read() packets.Packet {
	rc.t.Helper()
	pk, err := rc.tryRead(5 * time.Second)
	require.NoError(rc.t, err)
	return pk
}

// tryRead returns the next packet or the read error (io.EOF when the
// server closed the connection).
func (rc *rawClient) tryRead(d time.Duration) (packets.Packet, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	var pk packets.Packet
	b, err := rc.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(rc.r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = rc.version
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	case packets.Pubrel:
		err = pk.PubrelDecode(body)
	case packets.Pubcomp:
		err = pk.PubcompDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Unsuback:
		err = pk.UnsubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Pingresp:
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// closed waits until the server closes the connection, skipping (and
// returning) what it sends before.
func (rc *rawClient) closed() []packets.Packet {
	rc.t.Helper()
	var got []packets.Packet
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pk, err := rc.tryRead(time.Until(deadline))
		if err != nil {
			var ne net.Error
			require.False(rc.t, errorsAs(err, &ne) && ne.Timeout(), "connection still open")
			return got
		}
		got = append(got, pk)
	}
	rc.t.Fatal("connection still open")
	return nil
}

func (rc *rawClient) subscribe(id uint16, qos byte, filters ...string) packets.Packet {
	rc.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: qos})
	}
	rc.send(pk)
	ack := rc.read()
	require.Equal(rc.t, packets.Suback, ack.FixedHeader.Type)
	require.Equal(rc.t, id, ack.PacketID)
	return ack
}

func (rc *rawClient) publish(id uint16, qos byte, topic string, payload []byte, retain bool) {
	rc.t.Helper()
	rc.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		PacketID:    id,
		TopicName:   topic,
		Payload:     payload,
	})
}
