package amqpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/internal/backoff"
	"github.com/switchboard-go/switchboard/pubsub"
)

// connector keeps one AMQP connection open: it dials with exponential
// backoff, hands the live connection to whoever asks, and dials again when
// the server closes it. Its run goroutine is owned by the Broker.
type connector struct {
	url     string
	name    string
	opts    *Options
	backoff backoff.Backoff
	log     *slog.Logger

	mu   sync.Mutex
	conn *amqp.Connection // nil while down
	up   chan struct{}    // closed while conn is set
	down chan struct{}    // closed when conn is lost
	gen  uint64           // counts connections
	dead bool             // run has returned
	why  error            // the last dial or connection error, for Ready
}

func newConnector(url string, opts *Options, role string) *connector {
	name := opts.ConnectionName + " " + role
	return &connector{url: url, name: name, opts: opts, backoff: backoff.Backoff{Min: opts.MinBackoff, Max: opts.MaxBackoff},
		log: opts.Logger.With("connection", name), up: make(chan struct{})}
}

// dial opens one connection.
func (c *connector) dial() (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(c.name)
	// A 10 s bound on TCP connect and handshake keeps Close prompt when
	// the server does not answer.
	return amqp.DialConfig(c.url, amqp.Config{Heartbeat: c.opts.KeepAlive, Properties: props,
		Dial: amqp.DefaultDial(10 * time.Second)})
}

// run keeps the connection open until ctx is done, then closes it. first,
// if not nil, is an already open connection to start with.
func (c *connector) run(ctx context.Context, first *amqp.Connection) {
	attempt := 0 // failed attempts since the last connection that held
	conn := first
	for {
		if conn == nil {
			var err error
			conn, err = c.dial()
			if err != nil {
				attempt++
				c.mu.Lock()
				c.why = err
				c.mu.Unlock()
				delay := c.backoff.Delay(attempt)
				c.log.Warn("amqpx: connect failed", "err", err, "retry", delay)
				if pause(ctx, delay) != nil {
					c.finish()
					return
				}
				continue
			}
		}
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		c.mu.Lock()
		c.conn = conn
		c.gen++
		c.down = make(chan struct{})
		close(c.up)
		c.mu.Unlock()
		c.log.Info("amqpx: connected")
		start := time.Now()

		select {
		case <-ctx.Done():
			c.lost()
			_ = conn.Close()
			c.finish()
			return
		case err := <-closed:
			c.mu.Lock()
			if err != nil {
				c.why = err
			} else {
				c.why = errors.New("connection closed")
			}
			c.mu.Unlock()
			c.lost()
			c.log.Warn("amqpx: connection closed", "err", err)
			_ = conn.Close()
		}
		conn = nil
		if time.Since(start) > c.opts.MaxBackoff {
			attempt = 0
		}
	}
}

func (c *connector) lost() {
	c.mu.Lock()
	c.conn = nil
	c.up = make(chan struct{})
	close(c.down)
	c.mu.Unlock()
}

func (c *connector) finish() {
	c.mu.Lock()
	c.dead = true
	close(c.up) // wake waiters; they see dead
	c.mu.Unlock()
}

// get returns the live connection and its generation, waiting for one
// while the connector reconnects. It fails with ctx's error, or with
// pubsub.ErrClosed once the connector has stopped.
func (c *connector) get(ctx context.Context) (*amqp.Connection, uint64, error) {
	for {
		c.mu.Lock()
		conn, up, down, gen, dead := c.conn, c.up, c.down, c.gen, c.dead
		c.mu.Unlock()
		if dead {
			return nil, 0, pubsub.ErrClosed
		}
		if conn != nil && !conn.IsClosed() {
			return conn, gen, nil
		}
		wait := up
		if conn != nil {
			wait = down // closed, but run has not noticed yet
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-wait:
		}
	}
}

// ready returns nil while the connection is up, else why it is not: an
// error wrapping pubsub.ErrUnavailable with the last connection error, or
// pubsub.ErrClosed once the connector has stopped.
func (c *connector) ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.dead:
		return pubsub.ErrClosed
	case c.conn != nil && !c.conn.IsClosed():
		return nil
	case c.why != nil:
		return fmt.Errorf("%w: amqpx: %s connection down: %w", pubsub.ErrUnavailable, c.name, c.why)
	}
	return fmt.Errorf("%w: amqpx: %s connection down", pubsub.ErrUnavailable, c.name)
}

// closedConn reports whether the connection is down (or going down).
func (c *connector) closedConn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn == nil || c.conn.IsClosed()
}
