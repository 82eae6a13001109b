package ws

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
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
	broken   bool // a write or ping failed: the connection is unusable
}

func (s *session) writeLoop() {
	defer close(s.writerDone)
	w := &writer{s: s, timeout: s.h.opts.WriteTimeout, dirty: true}
	if w.timeout > 0 {
		// One timer guards every write without allocating per write: a
		// write that outlives the timeout drops the connection, which is
		// what coder/websocket does when a write context expires.
		w.watchdog = time.AfterFunc(time.Hour, func() {
			s.end(websocket.StatusInternalError, "write timeout")
			_ = s.conn.CloseNow()
		})
		w.watchdog.Stop()
	}
	if iv := s.h.opts.PingInterval; iv > 0 {
		w.ping = time.NewTimer(iv)
	}
	w.loop()
	w.finish()
}

func (w *writer) loop() {
	s := w.s
	var pingC <-chan time.Time
	if w.ping != nil {
		pingC = w.ping.C
	}
	for {
		if w.dirty {
			w.rebuild(pingC)
		}
		var (
			it     ctrlItem
			isCtrl bool
			idx    = -1
			m      *pubsub.Message
			ok     bool
		)
		if len(w.subs) <= fixedSubs {
			select {
			case <-s.ctx.Done():
				return
			case it = <-s.ctrl:
				isCtrl = true
			case m, ok = <-w.chans[0]:
				idx = 0
			case m, ok = <-w.chans[1]:
				idx = 1
			case m, ok = <-w.chans[2]:
				idx = 2
			case m, ok = <-w.chans[3]:
				idx = 3
			case <-pingC:
				if !w.doPing() {
					return
				}
				continue
			}
		} else {
			chosen, v, recvOK := reflect.Select(w.cases)
			switch chosen {
			case 0:
				return
			case 1:
				it, isCtrl = v.Interface().(ctrlItem), true
			case 2:
				if !w.doPing() {
					return
				}
				continue
			default:
				idx, ok = chosen-3, recvOK
				if ok {
					m = v.Interface().(*pubsub.Message)
				}
			}
		}
		if isCtrl {
			if !w.control(it) {
				return
			}
			continue
		}
		ss := w.subs[idx]
		if !ok {
			if !w.subscriptionEnded(ss) {
				return
			}
			continue
		}
		if !w.writeMessage(ss, m) {
			return
		}
		// Drain what else this subscription has ready without going
		// through the big select again: cheaper per message under load.
	drain:
		for range drainBatch {
			select {
			case m, ok := <-ss.ch:
				if !ok {
					if !w.subscriptionEnded(ss) {
						return
					}
					break drain
				}
				if !w.writeMessage(ss, m) {
					return
				}
			default:
				break drain
			}
		}
	}
}

// drainBatch caps the messages written from one subscription per wakeup,
// so control frames and other subscriptions are not starved.
const drainBatch = 64

func (w *writer) writeMessage(ss *serverSub, m *pubsub.Message) bool {
	if ss.unsubscribed.Load() {
		return true
	}
	w.buf = append(w.buf[:0], `{"type":"message","sub":`...)
	w.buf = append(w.buf, ss.idJSON...)
	w.buf = w.s.h.cache.Append(w.buf, m, appendEnvelopeFields)
	w.buf = append(w.buf, '}')
	return w.write(w.buf)
}

func (w *writer) rebuild(pingC <-chan time.Time) {
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
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(pingC)})
	for _, ss := range w.subs {
		w.cases = append(w.cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ss.ch)})
	}
}

// control handles one control item; false when the connection broke.
func (w *writer) control(it ctrlItem) bool {
	switch it.kind {
	case ctrlAdd:
		if !w.write(it.b) {
			return false
		}
		if it.gap {
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
	return w.write(it.b)
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
		s.end(CloseSlowConsumer, slowConsumerReason)
		return false
	case s.ctx.Err() != nil:
		return false
	}
	s.mu.Lock()
	if s.subs[ss.id] == ss {
		delete(s.subs, ss.id)
	}
	s.mu.Unlock()
	if err == nil {
		err = pubsub.ErrClosed
	}
	w.buf = appendErrorFrame(w.buf[:0], ss.id, err)
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
		wait = s.h.opts.PingInterval
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
	w.ping.Reset(s.h.opts.PingInterval)
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
