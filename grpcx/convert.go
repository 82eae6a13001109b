package grpcx

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// toProto converts a delivered message. Data and Header are shared with
// the broker's message, which is read-only and outlives the send.
func toProto(m *pubsub.Message) *pb.Message {
	p := &pb.Message{
		Topic:    m.Topic,
		Data:     m.Data,
		Header:   m.Header,
		Id:       m.ID,
		Cursor:   m.Cursor,
		Retained: m.Retain,
		Attempt:  int32(min(m.Attempt, 1<<31-1)),
	}
	if !m.Time.IsZero() {
		p.Time = timestamppb.New(m.Time)
	}
	return p
}

// fromPublish converts and checks a publish request: a valid topic and a
// payload plus header within Limits.MaxMessageBytes.
func (h *Handler) fromPublish(r *pb.PublishRequest) (pubsub.Message, error) {
	if r == nil {
		return pubsub.Message{}, fmt.Errorf("%w: missing message", transport.ErrBadRequest)
	}
	if err := pubsub.ValidateTopic(r.GetTopic()); err != nil {
		return pubsub.Message{}, err
	}
	if err := h.checkSize(r.GetData(), r.GetHeader()); err != nil {
		return pubsub.Message{}, err
	}
	id, err := messageKey(r.GetId(), r.GetKey())
	if err != nil {
		return pubsub.Message{}, err
	}
	return pubsub.Message{Topic: r.GetTopic(), Data: r.GetData(), Header: r.GetHeader(),
		Retain: r.GetRetain(), ID: id}, nil
}

// messageKey returns the message ID a request fixes: its key, or its id
// (both checked with transport.CheckKey); two different ones are refused.
func messageKey(id, key string) (string, error) {
	if id != "" && key != "" && id != key {
		return "", fmt.Errorf("%w: id and key differ (set one, the key)", transport.ErrBadRequest)
	}
	if key == "" {
		key = id
	}
	if err := transport.CheckKey(key); err != nil {
		return "", err
	}
	return key, nil
}

func (h *Handler) checkSize(data []byte, header map[string]string) error {
	max := h.lim.MaxMessageBytes
	if max <= 0 {
		return nil
	}
	n := int64(len(data))
	for k, v := range header {
		n += int64(len(k) + len(v))
	}
	if n > max {
		return fmt.Errorf("%w: message of %d bytes (data and header) exceeds the limit of %d", transport.ErrTooLarge, n, max)
	}
	return nil
}

func receipt(r pubsub.Receipt) *pb.PublishResponse {
	p := &pb.PublishResponse{Id: r.ID, Cursor: r.Cursor}
	if !r.Time.IsZero() {
		p.Time = timestamppb.New(r.Time)
	}
	return p
}
