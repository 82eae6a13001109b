package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// load is one run's connections' shared state: what the subscribers
// received and the errors met on the way.
type load struct {
	cfg   config
	total int // messages published in all: -pubs × -msgs
	errs  errorLog

	// Per subscriber i: the latency of each first delivery, and which
	// sequence numbers it has seen.
	lat  [][]time.Duration
	seen [][]byte

	delivered, dups atomic.Int64
	lastDelivery    atomic.Int64 // UnixNano of the latest delivery; 0 before the first
	readers         sync.WaitGroup
}

func newLoad(cfg config) *load {
	return &load{cfg: cfg, total: cfg.pubs * cfg.msgs,
		lat: make([][]time.Duration, cfg.subs), seen: make([][]byte, cfg.subs)}
}

// errorLog keeps the first ten errors.
type errorLog struct {
	mu   sync.Mutex
	list []string
}

func (e *errorLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.list) < 10 {
		e.list = append(e.list, err.Error())
	}
}

func (e *errorLog) first() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.list
}

// subscribe opens the subscriber connections, each with a reader counting
// its deliveries, and returns those that subscribed.
func (l *load) subscribe() []*conn {
	var subConns []*conn
	for i := range l.cfg.subs {
		cn, err := l.subscribeOne(i)
		if err != nil {
			l.errs.add(err)
			continue
		}
		subConns = append(subConns, cn)
		l.seen[i] = make([]byte, l.total)
		l.readers.Add(1)
		go func() {
			defer l.readers.Done()
			l.readDeliveries(i, cn)
		}()
	}
	return subConns
}

// subscribeOne connects subscriber i and subscribes it to -filter.
func (l *load) subscribeOne(i int) (*conn, error) {
	cn, err := dial(l.cfg.addr, fmt.Sprintf("sub-%d", i))
	if err != nil {
		return nil, err
	}
	if err := cn.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: l.cfg.filter, Qos: l.cfg.qos}}}); err != nil {
		return nil, err
	}
	if typ, _, err := cn.read(); err != nil || typ != packets.Suback {
		return nil, fmt.Errorf("suback: %d %v", typ, err)
	}
	return cn, nil
}

// readDeliveries reads subscriber i's PUBLISH packets until its connection
// closes: it acknowledges them (QoS 1), counts them and duplicates, and
// records the latency of each first delivery.
func (l *load) readDeliveries(i int, cn *conn) {
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
		if l.cfg.qos > 0 {
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
		l.delivered.Add(1)
		l.lastDelivery.Store(now)
		if seq < 0 || seq >= l.total {
			continue
		}
		if l.seen[i][seq] != 0 {
			l.dups.Add(1)
			continue
		}
		l.seen[i][seq] = 1
		l.lat[i] = append(l.lat[i], time.Duration(now-sent))
	}
}

// dialPublishers opens the publisher connections and returns those that
// connected.
func (l *load) dialPublishers() []*conn {
	var pubConns []*conn
	for i := range l.cfg.pubs {
		cn, err := dial(l.cfg.addr, fmt.Sprintf("pub-%d", i))
		if err != nil {
			l.errs.add(err)
			continue
		}
		pubConns = append(pubConns, cn)
	}
	return pubConns
}

// publish has every publisher send its messages at once and returns how
// many were published in all.
func (l *load) publish(pubConns []*conn) int {
	var published atomic.Int64
	var pwg sync.WaitGroup
	for pi, cn := range pubConns {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			l.publishFrom(pi, cn, &published)
		}()
	}
	pwg.Wait()
	return int(published.Load())
}

// publishFrom sends publisher pi's -msgs messages, each stamped with the
// time it was sent and its sequence number, waiting for each PUBACK at
// QoS 1; it stops at the first error.
func (l *load) publishFrom(pi int, cn *conn, published *atomic.Int64) {
	qos, msgs := l.cfg.qos, l.cfg.msgs
	payload := make([]byte, l.cfg.size)
	for k := range msgs {
		seq := pi*msgs + k
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint64(payload[8:], uint64(seq))
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, TopicName: l.cfg.topic, Payload: payload}
		if qos > 0 {
			pk.PacketID = uint16(k%65535 + 1)
		}
		if err := cn.send(pk); err != nil {
			l.errs.add(err)
			return
		}
		if qos > 0 {
			_ = cn.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if typ, _, err := cn.read(); err != nil || typ != packets.Puback {
				l.errs.add(fmt.Errorf("puback: %d %v", typ, err))
				return
			}
		}
		published.Add(1)
	}
}

// awaitDeliveries waits until every subscriber has each of the expected
// messages, or until -drain passes without a delivery (counted from start
// before the first).
func (l *load) awaitDeliveries(start time.Time, expected int64) {
	for {
		unique := l.delivered.Load() - l.dups.Load()
		if unique >= expected {
			return
		}
		last := l.lastDelivery.Load()
		if last == 0 {
			last = start.UnixNano()
		}
		if time.Since(time.Unix(0, last)) > l.cfg.drain {
			l.errs.add(errors.New("drain timeout"))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
