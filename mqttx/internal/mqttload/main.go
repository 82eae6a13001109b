// Command mqttload measures an MQTT server on loopback: it opens -subs
// subscriber connections (MQTT 3.1.1, filter -filter, QoS -qos), reads the
// server's memory once they are idle, then -pubs publisher connections each
// publish -msgs messages of -size bytes (QoS 1: each waits for its PUBACK;
// QoS 0: as fast as the socket takes them), and it reports one JSON line:
// publish rate, delivery rate, latency quantiles, missing and duplicate
// deliveries, and the server's RSS per idle connection.
//
//	go run ./mqttx/internal/mqttload -addr 127.0.0.1:1884 -subs 1000 -pubs 100 -msgs 20 -server-pid $PID
//
// It is a measuring tool, not a test: no pass/fail.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:1883", "MQTT server (loopback)")
	subs := flag.Int("subs", 1000, "subscriber connections")
	pubs := flag.Int("pubs", 100, "publisher connections")
	msgs := flag.Int("msgs", 20, "messages per publisher")
	size := flag.Int("size", 64, "payload bytes (at least 16)")
	qos := flag.Int("qos", 1, "QoS of subscriptions and publishes (0 or 1)")
	topic := flag.String("topic", "bench/t", "topic to publish to")
	filter := flag.String("filter", "bench/#", "subscription filter")
	idle := flag.Duration("idle", 3*time.Second, "wait after connecting before reading memory")
	drain := flag.Duration("drain", 10*time.Second, "give up waiting for deliveries after this long without one")
	pid := flag.Int("server-pid", 0, "server process for RSS figures (0: none)")
	flag.Parse()
	if h, _, err := net.SplitHostPort(*addr); err != nil || !(h == "127.0.0.1" || h == "localhost" || h == "::1") {
		fmt.Fprintln(os.Stderr, "mqttload: -addr must be a loopback host:port")
		os.Exit(2)
	}
	if *size < 16 {
		*size = 16
	}
	r := run(*addr, *subs, *pubs, *msgs, *size, byte(*qos), *topic, *filter, *idle, *drain, *pid)
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

type result struct {
	Subs, Pubs, Msgs, Size, QoS int
	Connected                   int
	RSSBeforeKiB, RSSIdleKiB    int64
	KiBPerConn                  float64
	Published                   int
	PubElapsedS                 float64
	PubMsgsPerS                 float64
	Expected, Delivered         int64
	Missing, Dups               int64
	ElapsedS                    float64
	DeliveriesPerS              float64
	LatP50Ms, LatP99Ms, LatMax  float64
	Errors                      []string `json:",omitempty"`
}

func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

type conn struct {
	c net.Conn
	r *bufio.Reader
	w sync.Mutex
}

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

func run(addr string, nSubs, nPubs, msgs, size int, qos byte, topic, filter string, idle, drain time.Duration, pid int) result {
	res := result{Subs: nSubs, Pubs: nPubs, Msgs: msgs, Size: size, QoS: int(qos)}
	var errMu sync.Mutex
	addErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(res.Errors) < 10 {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	total := nPubs * msgs
	res.RSSBeforeKiB = rss(pid)

	// Subscribers: count deliveries per message id, record latency.
	var delivered, dups atomic.Int64
	var lastDelivery atomic.Int64
	lat := make([][]time.Duration, nSubs)
	seen := make([][]byte, nSubs)
	var subConns []*conn
	var wg sync.WaitGroup
	for i := range nSubs {
		cn, err := dial(addr, fmt.Sprintf("sub-%d", i))
		if err != nil {
			addErr(err)
			continue
		}
		if err := cn.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
			Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}}); err != nil {
			addErr(err)
			continue
		}
		if typ, _, err := cn.read(); err != nil || typ != packets.Suback {
			addErr(fmt.Errorf("suback: %d %v", typ, err))
			continue
		}
		subConns = append(subConns, cn)
		seen[i] = make([]byte, total)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				typ, body, err := cn.read()
				if err != nil {
					return
				}
				if typ != packets.Publish {
					continue
				}
				tl := int(binary.BigEndian.Uint16(body))
				off := 2 + tl
				if qos > 0 {
					id := binary.BigEndian.Uint16(body[off:])
					off += 2
					_ = cn.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id})
				}
				p := body[off:]
				if len(p) < 16 {
					continue
				}
				sent := int64(binary.BigEndian.Uint64(p))
				seq := int(binary.BigEndian.Uint64(p[8:]))
				now := time.Now().UnixNano()
				delivered.Add(1)
				lastDelivery.Store(now)
				if seq < 0 || seq >= total {
					continue
				}
				if seen[i][seq] != 0 {
					dups.Add(1)
					continue
				}
				seen[i][seq] = 1
				lat[i] = append(lat[i], time.Duration(now-sent))
			}
		}()
	}
	res.Connected = len(subConns)
	time.Sleep(idle) // let the server settle before reading its memory
	res.RSSIdleKiB = rss(pid)
	if res.Connected > 0 && pid != 0 {
		res.KiBPerConn = float64(res.RSSIdleKiB-res.RSSBeforeKiB) / float64(res.Connected)
	}

	// Publishers.
	var pubConns []*conn
	for i := range nPubs {
		cn, err := dial(addr, fmt.Sprintf("pub-%d", i))
		if err != nil {
			addErr(err)
			continue
		}
		pubConns = append(pubConns, cn)
	}
	var published atomic.Int64
	start := time.Now()
	var pwg sync.WaitGroup
	for pi, cn := range pubConns {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			payload := make([]byte, size)
			for k := range msgs {
				seq := pi*msgs + k
				binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
				binary.BigEndian.PutUint64(payload[8:], uint64(seq))
				pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, TopicName: topic, Payload: payload}
				if qos > 0 {
					pk.PacketID = uint16(k%65535 + 1)
				}
				if err := cn.send(pk); err != nil {
					addErr(err)
					return
				}
				if qos > 0 {
					_ = cn.c.SetReadDeadline(time.Now().Add(30 * time.Second))
					if typ, _, err := cn.read(); err != nil || typ != packets.Puback {
						addErr(fmt.Errorf("puback: %d %v", typ, err))
						return
					}
				}
				published.Add(1)
			}
		}()
	}
	pwg.Wait()
	res.Published = int(published.Load())
	res.PubElapsedS = time.Since(start).Seconds()
	res.PubMsgsPerS = float64(res.Published) / res.PubElapsedS
	res.Expected = int64(res.Published) * int64(res.Connected)

	// Wait for the deliveries.
	for {
		unique := delivered.Load() - dups.Load()
		if unique >= res.Expected {
			break
		}
		last := lastDelivery.Load()
		if last == 0 {
			last = start.UnixNano()
		}
		if time.Since(time.Unix(0, last)) > drain {
			addErr(errors.New("drain timeout"))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := time.Unix(0, lastDelivery.Load())
	res.Delivered = delivered.Load()
	res.Dups = dups.Load()
	res.Missing = res.Expected - (res.Delivered - res.Dups)
	if lastDelivery.Load() > 0 {
		res.ElapsedS = end.Sub(start).Seconds()
	}
	if res.ElapsedS > 0 {
		res.DeliveriesPerS = float64(res.Delivered) / res.ElapsedS
	}
	for _, c := range append(subConns, pubConns...) {
		_ = c.c.Close()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) > 0 {
		slices.Sort(all)
		q := func(f float64) float64 { return float64(all[int(f*float64(len(all)-1))].Microseconds()) / 1000 }
		res.LatP50Ms, res.LatP99Ms, res.LatMax = q(0.5), q(0.99), q(1)
	}
	return res
}
