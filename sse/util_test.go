package sse

import (
	"encoding/json"
	"io"
	"net/http"
)

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func errEOF() error { return io.EOF }
