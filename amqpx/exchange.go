package amqpx

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// declareExchange declares o.Exchange as a topic exchange, durable unless
// o.TransientExchange. When RabbitMQ refuses because the exchange exists
// with the other durability (406 PRECONDITION_FAILED), it is used as it
// is: the declaration is repeated with that durability, which RabbitMQ
// accepts only for a topic exchange that differs in nothing else (not
// auto-delete, not internal, no arguments). Any other mismatch (another
// type, auto-delete, arguments) stays an error. Each attempt has a channel
// of its own, since a refused declaration closes its channel.
func declareExchange(conn *amqp.Connection, o *Options) error {
	durable := !o.TransientExchange
	err := declareExchangeOn(conn, o.Exchange, durable)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.PreconditionFailed && !conn.IsClosed() {
		if declareExchangeOn(conn, o.Exchange, !durable) == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("amqpx: failed to declare exchange %q: %w", o.Exchange, err)
	}
	return nil
}

func declareExchangeOn(conn *amqp.Connection, name string, durable bool) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	err = ch.ExchangeDeclare(name, amqp.ExchangeTopic, durable, false, false, false, nil)
	if err == nil {
		_ = ch.Close()
	}
	return err // a refused declaration closed the channel already
}
