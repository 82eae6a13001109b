package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
)

// streams are the Subscribe streams of the fan-out: each counts its
// deliveries and checks their sequence.
type streams struct {
	delivered atomic.Int64
	bad       atomic.Int64  // deliveries out of sequence (duplicated or reordered)
	all       chan struct{} // one value per stream that received all -msgs
	wg        sync.WaitGroup
}

// open opens -n streams on load/fanout over the clients in turn, waits for
// each one's first response, and counts them in r.Connected.
func (s *streams) open(ctx context.Context, clients []pubsubv1connect.PubSubServiceClient, cfg config, r *result) error {
	for i := range cfg.n {
		st, err := clients[i%cfg.conns].Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"load/fanout"}}))
		if err != nil {
			return err
		}
		if !st.Receive() {
			return fmt.Errorf("stream %d: %w", i, st.Err())
		}
		r.Connected++
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer st.Close()
			s.consume(st, cfg.msgs)
		}()
	}
	return nil
}

// consume counts st's messages until it ends; a message whose number is
// not the next one counts as bad.
func (s *streams) consume(st *connect.ServerStreamForClient[pb.SubscribeResponse], msgs int) {
	next := uint64(0)
	for st.Receive() {
		d := st.Msg().GetMessage().GetData()
		if len(d) < 8 || binary.BigEndian.Uint64(d) != next {
			s.bad.Add(1)
		}
		next++
		s.delivered.Add(1)
		if next == uint64(msgs) {
			s.all <- struct{}{}
		}
	}
}
