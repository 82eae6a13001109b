package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// conn is a raw MQTT 3.1.1 client connection: just enough of the protocol
// to measure a server without a client library's own costs.
type conn struct {
	c net.Conn
	r *bufio.Reader
	w sync.Mutex
}

// dial connects to addr as client id and waits for a successful CONNACK.
func dial(addr, id string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	cn := &conn{c: c, r: bufio.NewReaderSize(c, 4096)}
	if err := cn.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 120}}); err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, body, err := cn.read()
	if err != nil || typ != packets.Connack || len(body) < 2 || body[1] != 0 {
		_ = c.Close()
		return nil, fmt.Errorf("connack: type %d body %x: %v", typ, body, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return cn, nil
}

func (cn *conn) send(pk packets.Packet) error {
	pk.ProtocolVersion = 4
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	}
	if err != nil {
		return err
	}
	cn.w.Lock()
	defer cn.w.Unlock()
	_, err = cn.c.Write(buf.Bytes())
	return err
}

// read returns the next packet's type and body.
func (cn *conn) read() (byte, []byte, error) {
	h, err := cn.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, _, err := packets.DecodeLength(cn.r)
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(cn.r, body); err != nil {
		return 0, nil, err
	}
	return h >> 4, body, nil
}
