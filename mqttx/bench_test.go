package mqttx_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// BenchmarkServerFanOut publishes b.N messages into the broker and waits
// until each of 100 MQTT 3.1.1 subscribers (QoS 1, acknowledging) has them
// all; deliveries/s counts MQTT PUBLISH packets written to the subscribers.
func BenchmarkServerFanOut(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run(map[byte]string{0: "qos0", 1: "qos1"}[qos], func(b *testing.B) { benchFanOut(b, 100, qos) })
	}
}

func benchFanOut(b *testing.B, nSubs int, qos byte) {
	mem := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
	defer mem.Close()
	srv, err := mqttx.NewServer(mem, &mqttx.ServerOptions{Buffer: 4096})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	var got atomic.Int64
	var wg sync.WaitGroup
	var conns []net.Conn
	for i := range nSubs {
		c := dialBench(b, ln.Addr().String(), "bsub-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		conns = append(conns, c)
		writeBench(b, c, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
			Filters: packets.Subscriptions{{Filter: "bench/#", Qos: qos}}})
		r := bufio.NewReader(c)
		if typ, _ := readBench(r); typ != packets.Suback {
			b.Fatalf("no SUBACK: %d", typ)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var acks []byte
			for {
				typ, body := readBench(r)
				if typ == 0 {
					return
				}
				if typ != packets.Publish {
					continue
				}
				got.Add(1)
				if qos > 0 {
					id := body[2+int(binary.BigEndian.Uint16(body)):]
					acks = append(acks[:0], 0x40, 2, id[0], id[1])
					if _, err := c.Write(acks); err != nil {
						return
					}
				}
			}
		}()
	}
	ctx := context.Background()
	payload := make([]byte, 64)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := mem.Publish(ctx, pubsub.Message{Topic: "bench/x", Data: payload}); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N) * int64(nSubs)
	deadline := time.Now().Add(60 * time.Second)
	for got.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	if got.Load() < want {
		b.Fatalf("delivered %d of %d", got.Load(), want)
	}
	b.ReportMetric(float64(want)/el.Seconds(), "deliveries/s")
	for _, c := range conns {
		_ = c.Close()
	}
	wg.Wait()
}

func dialBench(b *testing.B, addr, id string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	writeBench(b, c, connectPacket(id, false))
	r := bufio.NewReader(io.LimitReader(c, 4))
	if typ, _ := readBench(r); typ != packets.Connack {
		b.Fatalf("no CONNACK: %d", typ)
	}
	return c
}

func writeBench(b *testing.B, c net.Conn, pk packets.Packet) {
	if _, err := c.Write(encode(b, 4, pk)); err != nil {
		b.Fatal(err)
	}
}

func readBench(r *bufio.Reader) (byte, []byte) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, nil
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return 0, nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil
	}
	return h >> 4, body
}

// BenchmarkServerIdleConn opens b.N idle MQTT 3.1.1 connections, each with
// one subscription, and reports the heap and goroutine stack they hold
// (the client ends are in the same process; they add about 1 KiB each).
// Run it with -benchtime=1000x.
func BenchmarkServerIdleConn(b *testing.B) {
	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	srv, err := mqttx.NewServer(mem, nil)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	conns := make([]net.Conn, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		c := dialBench(b, ln.Addr().String(), "idle-"+strconv.Itoa(i))
		writeBench(b, c, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
			Filters: packets.Subscriptions{{Filter: "idle/" + strconv.Itoa(i) + "/#", Qos: 1}}})
		if typ, _ := readBench(bufio.NewReader(c)); typ != packets.Suback {
			b.Fatalf("no SUBACK: %d", typ)
		}
		conns = append(conns, c)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := float64(b.N)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1024/n, "heap-KiB/conn")
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/1024/n, "stack-KiB/conn")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/conn")
	for _, c := range conns {
		_ = c.Close()
	}
}

// BenchmarkBrokerRoundTrip publishes through Mosquitto with mqttx.Broker
// and waits for every message on a subscription of a second Broker:
// msgs/s is end-to-end throughput (concurrent publishers, QoS 0 and 1).
func BenchmarkBrokerRoundTrip(b *testing.B) {
	for _, qos := range []string{"0", "1"} {
		b.Run("qos"+qos, func(b *testing.B) {
			addr := mosquittoAddrB(b)
			ctx := context.Background()
			pub, err := mqttx.Dial(ctx, "mqtt://"+addr, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			sub, err := mqttx.Dial(ctx, "mqtt://"+addr, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			topic := "sbbench/" + pubsub.NewEpoch()
			s, err := sub.Subscribe(ctx, topic, &pubsub.SubscribeOptions{Buffer: 100000})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			hdr := map[string]string{mqttx.HeaderQoS: qos}
			payload := make([]byte, 64)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var next atomic.Int64
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := pub.Publish(ctx, pubsub.Message{Topic: topic, Data: payload, Header: hdr}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			for i := 0; i < b.N; i++ {
				select {
				case <-s.C():
				case <-time.After(10 * time.Second):
					b.Fatalf("got %d of %d", i, b.N)
				}
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

func mosquittoAddrB(b *testing.B) string {
	addr := os.Getenv("SWITCHBOARD_MQTT_ADDR")
	if addr == "" {
		addr = "127.0.0.1:1883"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		b.Skipf("no Mosquitto at %s: %v", addr, err)
	}
	_ = c.Close()
	return addr
}
