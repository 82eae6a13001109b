package ws

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// fixedSubs is how many subscriptions the writer selects on with a plain
// select statement (no allocation); beyond it, it uses reflect.Select.
const fixedSubs = 4

// writer is the state of a session's only writing goroutine.
type writer struct {
	s        *session
	subs     []*serverSub
	chans    [fixedSubs]<-chan *pubsub.Message
	cases    []reflect.SelectCase // for more than fixedSubs subscriptions
	dirty    bool                 // subs changed since chans/cases were built
	buf      []byte
	timeout  time.Duration
	watchdog *time.Timer
	ping     *time.Timer
	pingC    <-chan time.Time // ping.C; nil when pings are off
	broken   bool             // a write or ping failed: the connection is unusable
}

func (s *session) writeLoop() {
	defer close(s.writerDone)
	w := &writer{s: s, timeout: s.h.opts.WriteTimeout, dirty: true}
	if w.timeout > 0 {
		// One timer guards every write without allocating per write: a
		// write that outlives the timeout drops the connection, which is
		// what coder/websocket does when a write context expires.
		w.watchdog = time.AfterFunc(time.Hour, func() {
			s.end(websocket.StatusInternalError, writeTimeoutReason)
			_ = s.conn.CloseNow()
		})
		w.watchdog.Stop()
	}
	if iv := s.h.opts.KeepAlive; iv > 0 {
		w.ping = time.NewTimer(iv)
		w.pingC = w.ping.C
	}
	w.loop()
	w.finish()
}

// loop writes until the session ends or the connection breaks: each turn
// waits for one control item, message, ping tick or the end.
func (w *writer) loop() {
	for {
		if w.dirty {
			w.rebuild()
		}
		var ok bool
		if len(w.subs) <= fixedSubs {
			ok = w.waitFixed()
		} else {
			ok = w.waitMany()
		}
		if !ok {
			return
		}
	}
}

// waitFixed waits with a plain select over up to fixedSubs subscriptions
// (nil channels for the missing ones) and handles what arrives; false when
// the writer must stop.
func (w *writer) waitFixed() bool {
	s := w.s
	select {
	case <-s.ctx.Done():
		return false
	case it := <-s.ctrl:
		return w.control(it)
	case m, ok := <-w.chans[0]:
		return w.received(0, m, ok)
	case m, ok := <-w.chans[1]:
		return w.received(1, m, ok)
	case m, ok := <-w.chans[2]:
		return w.received(2, m, ok)
	case m, ok := <-w.chans[3]:
		return w.received(3, m, ok)
	case <-w.pingC:
		return w.doPing()
	}
}

// waitMany is waitFixed for more than fixedSubs subscriptions, through
// reflect.Select over the cases rebuild made: the end, control, ping, then
// one case per subscription.
func (w *writer) waitMany() bool {
	chosen, v, ok := reflect.Select(w.cases)
	switch chosen {
	case 0:
		return false
	case 1:
		return w.control(v.Interface().(ctrlItem))
	case 2:
		return w.doPing()
	}
	var m *pubsub.Message
	if ok {
		m = v.Interface().(*pubsub.Message)
	}
	return w.received(chosen-3, m, ok)
}

// received handles a receive from subscription w.subs[idx] (ok false: its
// channel closed), then drains what else it has ready; false when the
// writer must stop.
func (w *writer) received(idx int, m *pubsub.Message, ok bool) bool {
	ss := w.subs[idx]
	if !ok {
		return w.subscriptionEnded(ss)
	}
	return w.writeMessage(ss, m) && w.drain(ss)
}

// drain writes up to drainBatch more messages that ss has ready without
// going through the big select again: cheaper per message under load.
// False when the writer must stop.
func (w *writer) drain(ss *serverSub) bool {
	for range drainBatch {
		select {
		case m, ok := <-ss.ch:
			if !ok {
				return w.subscriptionEnded(ss)
			}
			if !w.writeMessage(ss, m) {
				return false
			}
		default:
			return true
		}
	}
	return true
}

// drainBatch caps the messages written from one subscription per wakeup,
// so control frames and other subscriptions are not starved.
const drainBatch = 64

func (w *writer) writeMessage(ss *serverSub, m *pubsub.Message) bool {
	if ss.unsubscribed.Load() {
		return true
	}
	if ss.topic != "" {
		w.buf = append(w.buf[:0], `{"type":"message"`...)
		w.buf = w.s.h.guide.Append(w.buf, m, appendGuideFields)
		w.buf = append(w.buf, '}')
	} else {
		w.buf = append(w.buf[:0], `{"type":"message","sub":`...)
		w.buf = append(w.buf, ss.idJSON...)
		w.buf = w.s.h.cache.Append(w.buf, m, appendEnvelopeFields)
		w.buf = append(w.buf, '}')
	}
	if !w.write(w.buf) {
		return false
	}
	w.s.h.opts.Observer.OnDelivered("ws", m, len(w.buf))
	return true
}

// rebuild refreshes the channels waitFixed or waitMany select on after
// subs changed.
func (w *writer) rebuild() {
	w.dirty = false
	w.chans = [fixedSubs]<-chan *pubsub.Message{}
	if len(w.subs) <= fixedSubs {
		for i, ss := range w.subs {
			w.chans[i] = ss.ch
		}
		w.cases = nil
		return
	}
	w.cases = w.cases[:0]
	w.cases = append(w.cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.s.ctx.Done())},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.s.ctrl)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.pingC)})
	for _, ss := range w.subs {
		w.cases = append(w.cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ss.ch)})
	}
}

// control handles one control item; false when the connection broke.
func (w *writer) control(it ctrlItem) bool {
	switch it.kind {
	case ctrlAdd:
		if it.b != nil && !w.write(it.b) {
			return false
		}
		if it.gap && it.sub.topic != "" {
			w.buf = appendTopicsFrame(w.buf[:0], typeGap, []string{it.sub.topic}, "")
			if !w.write(w.buf) {
				return false
			}
		} else if it.gap {
			w.buf = appendIDFrame(w.buf[:0], typeGap, "sub", it.sub.id)
			if !w.write(w.buf) {
				return false
			}
		}
		if !it.sub.unsubscribed.Load() {
			w.subs = append(w.subs, it.sub)
			w.dirty = true
		}
		return true
	case ctrlRemove:
		for i, ss := range w.subs {
			if ss == it.sub {
				w.remove(i)
				break
			}
		}
	}
	return it.b == nil || w.write(it.b)
}

func (w *writer) remove(i int) {
	w.subs = append(w.subs[:i], w.subs[i+1:]...)
	w.dirty = true
}

// subscriptionEnded handles the close of subscription ss's channel (every
// message it buffered has been written by now); false when the session
// ends.
func (w *writer) subscriptionEnded(ss *serverSub) bool {
	s := w.s
	for i, x := range w.subs {
		if x == ss {
			w.remove(i)
			break
		}
	}
	if ss.unsubscribed.Load() {
		return true // the ctrlRemove item writes "unsubscribed"
	}
	err := ss.sub.Err()
	switch {
	case errors.Is(err, pubsub.ErrSlowConsumer):
		s.subEnded(ss, transport.EndSlowConsumer, err)
		s.end(CloseSlowConsumer, slowConsumerReason)
		return false
	case s.ctx.Err() != nil:
		return false
	}
	s.subEnded(ss, transport.ReasonOf(err), err)
	s.mu.Lock()
	if s.subs[ss.id] == ss {
		delete(s.subs, ss.id)
	}
	s.mu.Unlock()
	if err == nil {
		err = pubsub.ErrClosed
	}
	if ss.topic != "" {
		w.buf = appendErrorAbout(w.buf[:0], "", ss.topic, err)
	} else {
		w.buf = appendErrorFrame(w.buf[:0], ss.id, err)
	}
	return w.write(w.buf)
}

func (w *writer) write(b []byte) bool {
	if w.broken {
		return false
	}
	if w.watchdog != nil {
		w.watchdog.Reset(w.timeout)
	}
	err := w.s.conn.Write(context.Background(), websocket.MessageText, b)
	if w.watchdog != nil {
		w.watchdog.Stop()
	}
	if err != nil {
		w.broken = true
		w.s.end(websocket.StatusAbnormalClosure, "write failed")
		return false
	}
	return true
}

func (w *writer) doPing() bool {
	s := w.s
	wait := w.timeout
	if wait <= 0 {
		wait = s.h.opts.KeepAlive
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	err := s.conn.Ping(ctx)
	cancel()
	if err != nil {
		// The peer is gone or stuck: a close handshake would only wait
		// for it in vain.
		w.broken = true
		s.end(websocket.StatusPolicyViolation, "no pong")
		return false
	}
	w.ping.Reset(s.h.opts.KeepAlive)
	return true
}

// finish writes the control frames already queued (error frames that
// explain the close, replies), then closes the connection with the code
// recorded by session.end.
func (w *writer) finish() {
	s := w.s
	if w.ping != nil {
		w.ping.Stop()
	}
	if !w.broken {
	drain:
		for {
			select {
			case it := <-s.ctrl:
				if it.kind != ctrlAdd && !w.write(it.b) {
					break drain
				}
			default:
				break drain
			}
		}
	}
	if w.watchdog != nil {
		w.watchdog.Stop()
	}
	if w.broken {
		_ = s.conn.CloseNow()
		return
	}
	_ = s.conn.Close(s.closeCode, s.closeReason)
}
