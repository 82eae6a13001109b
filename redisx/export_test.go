package redisx

import (
	"context"
	"time"
)

// CleanupExample deletes the keys of b's namespace (examples and tests).
func CleanupExample(b *Broker) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.rdb.Del(ctx, b.keyLog, b.keyEpoch, b.keyRetained, b.keyCount)
}

// Conns returns the connections b holds open to Redis.
func Conns(b *Broker) int {
	return int(b.rdb.PoolStats().TotalConns + b.grp.PoolStats().TotalConns)
}
