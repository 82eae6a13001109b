package grpcx

//go:generate sh proto/generate.sh
