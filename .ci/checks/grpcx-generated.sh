#!/usr/bin/env bash
# Fails when the committed generated code of grpcx's proto is stale: it
# regenerates into a temporary directory with the pinned plugins
# (grpcx/proto/generate.sh installs them with go install when missing) and
# diffs. The "protoc vX" header line is ignored, so a different protoc
# release does not count as staleness.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh grpcx/proto/generate.sh "$tmp"
status=0
for f in grpcx/pubsubv1/pubsub.pb.go grpcx/pubsubv1/pubsubv1connect/pubsub.connect.go internal/grpcgo/pubsub_grpc.pb.go; do
	if ! diff -u -I '^//[[:space:]-]*protoc[[:space:]]\+v' "$f" "$tmp/$f"; then
		echo "stale: $f (run: go generate ./grpcx/...)" >&2
		status=1
	fi
done
extra=$(cd "$tmp" && find . -type f | sort)
want=$(printf './grpcx/pubsubv1/pubsub.pb.go\n./grpcx/pubsubv1/pubsubv1connect/pubsub.connect.go\n./internal/grpcgo/pubsub_grpc.pb.go\n' | sort)
if [ "$extra" != "$want" ]; then
	echo "generate.sh produced files this check does not know:" >&2
	echo "$extra" >&2
	status=1
fi
exit $status
