package amqpx_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
)

// newProxy starts a proxy to the space's RabbitMQ that the test can cut,
// and returns it with the AMQP URL that goes through it.
func newProxy(t *testing.T, amqpURL string) (*testenv.Proxy, string) {
	u, err := url.Parse(amqpURL)
	require.NoError(t, err)
	p := testenv.NewProxy(t, u.Host)
	u.Host = p.Addr()
	return p, u.String()
}
