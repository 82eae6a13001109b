package redisx

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-go/switchboard/internal/backoff"
)

// read is the node reader: the one goroutine that reads the stream from
// last (whose entry count is n) on and fans every entry out to the local
// subscriptions. Entry counts must follow each other: a jump means
// entries were trimmed before the reader got to them, and every live
// subscription ends with ErrTrimmed. An entry from another epoch means
// Redis lost the stream (ErrReset). While it is behind (after a
// reconnect, or a full batch) it reads without blocking, checking the
// epoch in the same MULTI; once it has caught up it blocks in XREAD BLOCK
// (without go-redis retries: a failed read goes back to the checked one).
func (b *Broker) read(last string, n uint64) {
	defer b.wg.Done()
	bo := backoff.Backoff{Min: b.opts.MinBackoff, Max: b.opts.MaxBackoff}
	fails := 0
	caughtUp := false
	var dead []*liveSub
	for b.ctx.Err() == nil {
		var batch []redis.XMessage
		var err error
		if caughtUp {
			batch, err = b.readBlocking(last)
		} else {
			var reset bool
			batch, reset, err = b.readChecked(last)
			if reset {
				last, n = b.reset(), 0
			}
		}
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			if fails == 0 {
				b.log.Warn("redisx: connection lost", "err", err)
			}
			fails++
			caughtUp = false
			t := time.NewTimer(bo.Delay(fails))
			select {
			case <-t.C:
			case <-b.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		if fails > 0 {
			b.log.Info("redisx: reconnected", "stream", b.keyLog, "from", last)
			fails = 0
		}
		caughtUp = len(batch) < readCount
		epoch := b.Epoch()
		for _, x := range batch {
			last = x.ID
			if e := entryEpoch(x.Values); e != "" && e != epoch {
				b.adopt(e) // Redis lost the stream; this entry is from the new one
				epoch, n = e, 0
			}
			if c := entryCount(x.Values); c != 0 {
				if n != 0 && c != n+1 {
					b.log.Warn("redisx: the stream was trimmed past this node's position", "last", n, "next", c)
					b.endAll(ErrTrimmed)
				}
				n = c
			}
			m, err := decodeEntry(epoch, x.ID, x.Values)
			if err != nil {
				b.log.Warn("redisx: skipping a stream entry", "id", x.ID, "err", err)
				continue
			}
			if !b.ids.Deliver(m) {
				b.log.Debug("redisx: dropped a copy of a message delivered before", "topic", m.Topic, "id", m.ID, "cursor", m.Cursor)
				continue
			}
			seq, _ := IDToSeq(x.ID)
			dead = b.fan.Deliver(m.Topic, func(s *liveSub) bool { return s.offer(m, seq) }, dead[:0])
			for _, s := range dead {
				b.fan.Remove(s)
			}
		}
	}
}

// readBlocking waits up to KeepAlive for entries after last.
func (b *Broker) readBlocking(last string) ([]redis.XMessage, error) {
	res, err := b.grp.XRead(b.ctx, &redis.XReadArgs{Streams: []string{b.keyLog, last}, Count: readCount, Block: b.opts.KeepAlive}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil || len(res) == 0 {
		return nil, err
	}
	return res[0].Messages, nil
}

// readChecked reads entries after last without blocking, checking in the
// same MULTI that Redis kept the epoch; reset reports that it did not.
func (b *Broker) readChecked(last string) (batch []redis.XMessage, reset bool, err error) {
	var epoch *redis.StringCmd
	var xr *redis.XStreamSliceCmd
	_, err = b.rdb.TxPipelined(b.ctx, func(p redis.Pipeliner) error {
		epoch = p.Get(b.ctx, b.keyEpoch)
		xr = p.XRead(b.ctx, &redis.XReadArgs{Streams: []string{b.keyLog, last}, Count: readCount, Block: -1})
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, err
	}
	if e, err := epoch.Result(); err != nil || e != b.Epoch() {
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, false, err
		}
		return nil, true, nil
	}
	res, err := xr.Result()
	if errors.Is(err, redis.Nil) || len(res) == 0 {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return res[0].Messages, false, nil
}

// reset adopts the epoch Redis holds now (creating it), ends every
// subscription with ErrReset and returns the newest entry id, to go on
// live from there. On an error it returns "0-0".
func (b *Broker) reset() string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	epoch, err := b.loadEpoch(ctx)
	if err != nil {
		return "0-0"
	}
	b.adopt(epoch)
	last, err := b.newest(ctx)
	if err != nil {
		return "0-0"
	}
	return last
}

// adopt makes epoch the Broker's and ends every subscription with
// ErrReset, unless it is the Broker's epoch already.
func (b *Broker) adopt(epoch string) {
	b.mu.Lock()
	if epoch == b.epoch {
		b.mu.Unlock()
		return
	}
	old := b.epoch
	b.epoch = epoch
	gsubs := make([]*groupSub, 0, len(b.gsubs))
	for s := range b.gsubs {
		gsubs = append(gsubs, s)
	}
	b.mu.Unlock()
	b.log.Warn("redisx: redis lost the stream, new epoch", "old", old, "epoch", epoch)
	b.endAll(ErrReset)
	for _, s := range gsubs {
		s.end(ErrReset)
	}
}

// endAll ends every live subscription with err.
func (b *Broker) endAll(err error) {
	for _, s := range b.fan.All() {
		s.Stop(err)
	}
}

// after reports whether stream id a comes after id b.
func after(a, b string) bool {
	sa, err1 := IDToSeq(a)
	sb, err2 := IDToSeq(b)
	return err1 == nil && err2 == nil && sa > sb
}
