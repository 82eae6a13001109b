//go:build !linux

package netwatch

import "syscall"

// watchFD has no shared poller outside Linux: Watch falls back to a
// goroutine per connection.
func watchFD(syscall.RawConn, func()) (func() bool, bool) { return nil, false }
