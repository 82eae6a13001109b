package grpcx

import "net/http"

// The headers Options.CORS allows and exposes unless it lists its own:
// those of gRPC-Web and Connect (as connectrpc.com/cors lists them), plus
// Authorization, and the resume cursor of a stream the server ended.
var (
	corsAllowHeaders = []string{"Content-Type", "Connect-Protocol-Version", "Connect-Timeout-Ms",
		"Connect-Accept-Encoding", "Connect-Content-Encoding", "Grpc-Timeout", "Grpc-Accept-Encoding",
		"X-Grpc-Web", "X-User-Agent", "Authorization"}
	corsExposeHeaders = []string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
		"Content-Encoding", "Connect-Content-Encoding", http.CanonicalHeaderKey(ResumeCursorKey)}
)
