package interop

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/internal/testenv"
)

// runNode runs a Node.js script from internal/interop/node with args and
// returns its stdout. It fails the test on a non-zero exit, showing stderr.
// The script must exit on its own; ctx bounds it.
func runNode(ctx context.Context, t *testing.T, script string, args ...string) string {
	t.Helper()
	dir := testenv.NodeDir(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, script)}, args...)...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, out.String(), errb.String())
	}
	return out.String()
}
