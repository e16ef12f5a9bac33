package streaming

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// socket is one WebSocket of a channel. Its reader goroutine lives as long as
// the connection; its writer goroutine (flush) only while messages are queued.
type socket struct {
	h    *Hub
	ch   *channel // the channel it serves; nil once replaced or removed. Guarded by h.mu.
	slot int      // its heartbeat slot (see heartbeatSlots); set before it is registered

	mu      sync.Mutex
	conn    *websocket.Conn // nil until the upgrade is done
	aborted bool            // abort was called before conn was set
	queue   []outMsg
	writing bool // a flush goroutine runs
	closing bool // a close is queued or done: nothing more is queued
	// drained, if set, is closed when the flush goroutine exits: the reader
	// waits on it to answer a client's close frame after the queued messages.
	drained chan struct{}
}

// outMsg is a queued message; a nil pm is a close frame.
type outMsg struct {
	pm   *websocket.PreparedMessage
	code int
	text string
}

// enqueue queues pm without blocking and reports whether it did. A full
// queue drops pm and closes the socket abruptly. The caller holds h.mu (read
// or write) or runs on the socket's reader, so the hub is not closed under it.
func (s *socket) enqueue(pm *websocket.PreparedMessage) bool { return s.enqueueCounted(pm, nil) }

// enqueueCounted is enqueue that also adds 1 to counter when the message is
// queued, before the writer can send it: a client that has read the message
// then always sees it counted in Stats.
func (s *socket) enqueueCounted(pm *websocket.PreparedMessage, counter *atomic.Int64) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	if len(s.queue) >= s.h.cfg.SendBuffer {
		s.closing = true
		s.queue = nil
		s.mu.Unlock()
		s.h.n.overflows.Add(1)
		s.abort()
		return false
	}
	s.queue = append(s.queue, outMsg{pm: pm})
	if counter != nil {
		counter.Add(1)
	}
	s.startLocked()
	s.mu.Unlock()
	return true
}

// closeGraceful queues a close frame after the messages already queued. The
// reader then waits at most closeWait for the client's answer.
func (s *socket) closeGraceful(code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.closing = true
	s.queue = append(s.queue, outMsg{code: code, text: text})
	s.startLocked()
}

func (s *socket) startLocked() {
	if !s.writing && s.conn != nil {
		s.writing = true
		s.h.wg.Add(1)
		go s.flush()
	}
}

// abort closes the connection without a close frame; the reader ends.
func (s *socket) abort() {
	s.mu.Lock()
	conn := s.conn
	s.aborted = conn == nil
	s.mu.Unlock()
	if conn != nil {
		conn.NetConn().Close()
	}
}

// stopWritingLocked marks the flush goroutine gone and wakes a reader
// waiting for it. s.mu must be held.
func (s *socket) stopWritingLocked() {
	s.writing = false
	if s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// flush writes queued messages until the queue is empty, then exits.
func (s *socket) flush() {
	defer s.h.wg.Done()
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.queue = nil
			s.stopWritingLocked()
			s.mu.Unlock()
			return
		}
		m := s.queue[0]
		s.queue[0] = outMsg{}
		s.queue = s.queue[1:]
		s.mu.Unlock()

		if m.pm == nil {
			s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(m.code, m.text),
				time.Now().Add(writeWait))
			// The reader ends when the client answers, or at this deadline.
			s.conn.SetReadDeadline(time.Now().Add(closeWait))
			continue
		}
		s.conn.SetWriteDeadline(time.Now().Add(writeWait))
		if err := s.conn.WritePreparedMessage(m.pm); err != nil {
			s.mu.Lock()
			already := s.closing
			s.closing = true
			s.queue = nil
			s.stopWritingLocked()
			s.mu.Unlock()
			if !already {
				s.h.n.writeErrors.Add(1)
			}
			s.abort()
			return
		}
	}
}

var pingMsg = []byte(`"ping"`)

// read serves the client's messages until the connection ends, then detaches
// the socket from its channel.
//
// A close frame from the client is answered after the messages already
// queued for the socket (RFC 6455, 5.5.1: an endpoint may send data frames
// after receiving a Close, until it sends its own): a client that closes an
// old socket during a switchover still gets the events the hub queued for
// it. Nothing more is queued once the close frame has arrived, and the whole
// drain, close answer included, is bounded by writeWait.
func (s *socket) read() {
	defer s.h.wg.Done()
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			s.end(err)
			return
		}
		if isPing(data) {
			s.enqueueCounted(s.h.pong, &s.h.n.pongs)
		}
	}
}

// ignoreClose is the socket's close handler: read answers a client's close
// frame itself, after the queued messages (gorilla's default handler would
// answer at once).
func ignoreClose(int, string) error { return nil }

// end closes the connection that read ended with err, first draining the
// queue if err is the client's close frame, and detaches the socket. It is
// apart from read to keep read's frame, on every idle socket's stack, small.
func (s *socket) end(err error) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		s.drain(ce.Code)
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.conn.Close()
	s.detach()
	s.h.n.disconnects.Add(1)
}

// drain answers the client's close frame, whose status code was code: it
// queues the answer after the messages already queued (unless a close of the
// hub's own is queued or sent) and waits, at most writeWait, until the writer
// has written them all or failed.
func (s *socket) drain(code int) {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		// Echo the client's code; a close frame without one (1005) is
		// answered without one too (FormatCloseMessage).
		s.queue = append(s.queue, outMsg{code: code})
		s.startLocked()
	}
	if !s.writing {
		s.mu.Unlock()
		return
	}
	done := make(chan struct{})
	s.drained = done
	s.mu.Unlock()
	t := time.NewTimer(writeWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.abort() // the pending write fails; the writer exits
		<-done
	}
}

// detach removes s from its channel and the hub.
func (s *socket) detach() {
	h := s.h
	h.mu.Lock()
	if c := s.ch; c != nil && c.sock == s {
		c.sock = nil
	}
	s.ch = nil
	delete(h.sockets, s)
	h.mu.Unlock()
}

// isPing reports whether data is {"message":"ping"}.
func isPing(data []byte) bool {
	if !bytes.Contains(data, pingMsg) {
		return false
	}
	var m message
	return json.Unmarshal(data, &m) == nil && m.Message == "ping"
}
