package sse

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(memServerEnv) != "" {
		runMemServer() // the child process of BenchmarkIdleStreamMemory
		return
	}
	goleak.VerifyTestMain(m)
}
