package netwatch

import (
	"sync"
	"syscall"
)

// The watcher is shared by the process: one epoll instance and one
// goroutine, started by the first Watch and ended when the last watched
// connection is unwatched (it is woken through an eventfd).
var w struct {
	mu      sync.Mutex
	epfd    int
	wakefd  int
	running bool
	done    chan struct{} // closed when the goroutine has exited
	next    int32         // generation of the latest registration
	watched map[int32]*entry
}

// entry is one watched descriptor. gen tells a registration from an
// earlier one of the same descriptor number (closed, then reused), whose
// events may still be in flight.
type entry struct {
	rc        syscall.RawConn // reads through it hold the descriptor open
	fd        int32
	gen       int32
	gone      func()
	discarded int
}

// watchFD registers the socket of rc with the shared epoll instance.
func watchFD(rc syscall.RawConn, gone func()) (stop func() bool, ok bool) {
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return nil, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running && !startLocked() {
		return nil, false
	}
	w.next++
	e := &entry{rc: rc, fd: int32(fd), gen: w.next, gone: gone}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: e.fd, Pad: e.gen}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		if done := stopIfIdleLocked(); done != nil {
			w.mu.Unlock()
			<-done
			w.mu.Lock()
		}
		return nil, false
	}
	w.watched[e.fd] = e
	return func() bool { return unwatch(e) }, true
}

// unwatch removes e; it reports whether gone had not been called. When e
// was the last watched connection it waits for the goroutine to exit,
// also when e fired (the goroutine stopped itself then): gone must not
// call it.
func unwatch(e *entry) bool {
	w.mu.Lock()
	if w.watched[e.fd] != e {
		var done <-chan struct{}
		if !w.running {
			done = w.done // exiting: nothing is watched any more
		}
		w.mu.Unlock()
		if done != nil {
			<-done
		}
		return false // fired, or stopped before
	}
	delete(w.watched, e.fd)
	_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(e.fd), nil)
	done := stopIfIdleLocked()
	w.mu.Unlock()
	if done != nil {
		<-done
	}
	return true
}

// startLocked creates the epoll instance and starts the goroutine; w.mu
// held.
func startLocked() bool {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	r1, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		_ = syscall.Close(epfd)
		return false
	}
	wakefd := int(r1)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = syscall.Close(wakefd)
		_ = syscall.Close(epfd)
		return false
	}
	w.epfd, w.wakefd, w.running = epfd, wakefd, true
	w.done = make(chan struct{})
	w.watched = make(map[int32]*entry)
	go loop(epfd, wakefd, w.done)
	return true
}

// stopIfIdleLocked tells the goroutine to exit when nothing is watched,
// and returns the channel closed when it has (nil when it goes on); w.mu
// held. The goroutine closes both descriptors.
func stopIfIdleLocked() <-chan struct{} {
	if !w.running || len(w.watched) > 0 {
		return nil
	}
	w.running = false
	one := [8]byte{1}
	_, _ = syscall.Write(w.wakefd, one[:])
	return w.done
}

func loop(epfd, wakefd int, done chan struct{}) {
	defer close(done)
	defer syscall.Close(epfd)
	defer syscall.Close(wakefd)
	events := make([]syscall.EpollEvent, 128)
	var fire []func()
	var buf [512]byte
	for {
		n, err := syscall.EpollWait(epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return // cannot happen with valid descriptors; watchers fall silent
		}
		w.mu.Lock()
		if !w.running || w.epfd != epfd {
			w.mu.Unlock()
			return // stopped, and perhaps a new instance started since
		}
		for _, ev := range events[:n] {
			if ev.Fd < 0 {
				continue // the eventfd: a Watch raced with the last unwatch
			}
			e := w.watched[ev.Fd]
			if e == nil || e.gen != ev.Pad {
				continue
			}
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 && !discard(e, buf[:]) {
				continue // the peer sent bytes; they are gone, the peer is not
			}
			delete(w.watched, e.fd)
			_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, int(e.fd), nil)
			fire = append(fire, e.gone)
		}
		stopIfIdleLocked() // the next EpollWait returns at once
		w.mu.Unlock()
		for i, f := range fire {
			f()
			fire[i] = nil
		}
		fire = fire[:0]
	}
}

// discard reads what the peer sent without blocking and reports whether
// the peer is gone: end of stream, an error (the connection was closed
// meanwhile), or more than MaxDiscard bytes in all. It reads through the
// connection's RawConn, which keeps the descriptor from being closed (and
// its number reused) during the read.
func discard(e *entry, buf []byte) (gone bool) {
	for {
		var n int
		var rerr error
		err := e.rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), buf)
			return true // one attempt: never wait for data
		})
		switch {
		case err != nil:
			return true
		case rerr == syscall.EAGAIN || rerr == syscall.EINTR:
			return false
		case rerr != nil || n == 0:
			return true
		}
		e.discarded += n
		if e.discarded > MaxDiscard {
			return true
		}
	}
}
