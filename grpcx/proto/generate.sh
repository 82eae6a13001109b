#!/bin/sh
# generate.sh regenerates the Go code of switchboard/pubsub/v1/pubsub.proto
# with pinned plugin versions. `go generate ./grpcx/...` runs it from grpcx/.
#
#   sh grpcx/proto/generate.sh [OUTDIR]
#
# OUTDIR is the module root to write into (default: this checkout's root);
# .ci/checks/grpcx-generated.sh passes a temporary directory and diffs.
# Outputs (relative to OUTDIR):
#   grpcx/pubsubv1/pubsub.pb.go                      protoc-gen-go
#   grpcx/pubsubv1/pubsubv1connect/pubsub.connect.go protoc-gen-connect-go
#   internal/grpcgo/pubsub_grpc.pb.go                protoc-gen-go-grpc (test-only grpc-go stubs)
# Plugins found on PATH at the pinned version are used; otherwise they are
# installed with `go install` into a cache directory.
set -eu

GO_VERSION=v1.36.12      # google.golang.org/protobuf/cmd/protoc-gen-go
CONNECT_VERSION=v1.21.1  # connectrpc.com/connect/cmd/protoc-gen-connect-go
GRPC_VERSION=v1.6.2      # google.golang.org/grpc/cmd/protoc-gen-go-grpc

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root}
module=github.com/switchboard-go/switchboard
cache=${SWITCHBOARD_PLUGIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/protoc-plugins}
PATH=$PATH:$(go env GOPATH)/bin

# plugin NAME PACKAGE VERSION WANT: print the path of a plugin whose
# --version output contains WANT, installing it when needed.
plugin() {
	p=$(command -v "$1" 2>/dev/null || true)
	if [ -n "$p" ] && "$p" --version 2>/dev/null | grep -q -- "$4\$"; then
		echo "$p"
		return
	fi
	dir=$cache/$1-$3
	if [ ! -x "$dir/$1" ]; then
		echo "installing $2@$3 into $dir" >&2
		GOBIN=$dir GOFLAGS=-mod=mod go install "$2@$3" >&2
	fi
	echo "$dir/$1"
}

pgo=$(plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go $GO_VERSION "$GO_VERSION")
pconnect=$(plugin protoc-gen-connect-go connectrpc.com/connect/cmd/protoc-gen-connect-go $CONNECT_VERSION "${CONNECT_VERSION#v}")
pgrpc=$(plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc $GRPC_VERSION "${GRPC_VERSION#v}")

proto=switchboard/pubsub/v1/pubsub.proto
mkdir -p "$out"
protoc -I "$here" \
	--plugin=protoc-gen-go="$pgo" --go_out="$out" --go_opt=module=$module \
	--plugin=protoc-gen-connect-go="$pconnect" --connect-go_out="$out" --connect-go_opt=module=$module \
	"$here/$proto"
# grpc-go stubs go into internal/grpcgo, next to type aliases of the
# messages (internal/grpcgo/types.go), so the library never imports grpc-go.
protoc -I "$here" \
	--plugin=protoc-gen-go-grpc="$pgrpc" --go-grpc_out="$out" \
	--go-grpc_opt=module=$module,M$proto=$module/internal/grpcgo\;grpcgo \
	"$here/$proto"
