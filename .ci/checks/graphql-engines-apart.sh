#!/usr/bin/env bash
# Each GraphQL engine stays in its own adapter package: graphqlsub and
# graphqlsub/gophers must not build gqlgen, graphqlsub/gqlgen must not build
# graph-gophers, and nothing (the gqlgen example included) may build
# gqlgen's code generator, which runs only as
# `go run github.com/99designs/gqlgen@<version> generate`.
set -euo pipefail
cd "$(dirname "$0")/../.."
status=0
refuse() { # refuse <package> <regexp> <what>
	local deps hits
	deps=$(go list -deps "$1") # fails the check when go list fails
	hits=$(grep -E "$2" <<<"$deps" || true)
	if [ -n "$hits" ]; then
		echo "$1 builds $3:" >&2
		echo "$hits" >&2
		status=1
	fi
}
generator='^github.com/99designs/gqlgen($|/(api|codegen|plugin|internal/code|internal/imports))|^github.com/urfave/cli|^golang.org/x/tools/'
refuse ./graphqlsub '^github.com/(99designs/gqlgen|graph-gophers/)' "a GraphQL engine"
refuse ./graphqlsub/gophers '^github.com/99designs/gqlgen' "gqlgen"
refuse ./graphqlsub/gqlgen '^github.com/graph-gophers/' "graph-gophers"
refuse ./... "$generator" "gqlgen's generator"
exit $status
