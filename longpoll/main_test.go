package longpoll

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(memServerEnv) != "" {
		runMemServer() // the child process of BenchmarkHeldPollMemory
		return
	}
	goleak.VerifyTestMain(m)
}
