package streaming

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socket is one WebSocket of a channel. Its reader goroutine lives as long as
// the connection; its writer goroutine (flush) only while messages are queued.
type socket struct {
	h  *Hub
	ch *channel // the channel it serves; nil once replaced or removed. Guarded by h.mu.

	mu      sync.Mutex
	conn    *websocket.Conn // nil until the upgrade is done
	aborted bool            // abort was called before conn was set
	queue   []outMsg
	writing bool // a flush goroutine runs
	closing bool // a close is queued or done: nothing more is queued
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
func (s *socket) enqueue(pm *websocket.PreparedMessage) bool {
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

// flush writes queued messages until the queue is empty, then exits.
func (s *socket) flush() {
	defer s.h.wg.Done()
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.queue = nil
			s.writing = false
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
			s.writing = false
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
func (s *socket) read() {
	defer s.h.wg.Done()
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			break
		}
		if isPing(data) && s.enqueue(s.h.pong) {
			s.h.n.pongs.Add(1)
		}
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.conn.Close()
	s.detach()
	s.h.n.disconnects.Add(1)
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
