#!/usr/bin/env bash
# Fails when the committed gqlgen code of examples/gqlgenchat/chat is stale:
# it regenerates in place with the pinned gqlgen (go run …@version, so the
# generator never enters go.mod), diffs against what was there, and puts
# the original files back whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../../examples/gqlgenchat/chat"
files="generated.go models_gen.go"
tmp=$(mktemp -d)
for f in $files; do cp "$f" "$tmp/$f"; done
trap 'for f in $files; do cp "$tmp/$f" "$f"; done; rm -rf "$tmp"' EXIT
go run github.com/99designs/gqlgen@v0.17.98 generate
status=0
for f in $files; do
	if ! diff -u "$tmp/$f" "$f"; then
		echo "stale: examples/gqlgenchat/chat/$f (run: go generate ./examples/gqlgenchat/chat)" >&2
		status=1
	fi
done
exit $status
