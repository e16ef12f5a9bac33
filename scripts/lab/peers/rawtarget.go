package main

// The raw target: a minimal HTTP/1.1 responder on net.Conn that answers
// every request with targetBody, the same answer as targetHandler, at a
// fraction of net/http's server cost, so that a loader faster than the
// bare net/http loop is not capped by the target.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of a request head. A line must fit in the connection's read
// buffer (rawLineMax); the whole head, request line and fields, in
// rawHeadMax. Beyond them the answer is 414 (request line) or 431.
const (
	rawLineMax  = 4 << 10
	rawHeadMax  = 16 << 10
	rawWriteBuf = 4 << 10
)

// Target kinds of -target.
const (
	targetRaw     = "raw"
	targetNetHTTP = "nethttp"
)

// targetKinds are the valid -target values.
var targetKinds = []string{targetRaw, targetNetHTTP}

// targetDescription says in the table's header what answered.
func targetDescription(kind string) string {
	switch kind {
	case targetNetHTTP:
		return "Go net/http"
	case targetRaw:
		return "raw HTTP/1.1 responder (net.Conn)"
	}
	return kind
}

// httpError is a request the raw target refuses: it answers status and
// closes the connection.
type httpError struct {
	status int
	why    string
}

func (e *httpError) Error() string {
	return "peers: raw target: " + strconv.Itoa(e.status) + " " + http.StatusText(e.status) + ": " + e.why
}

// The refusals. They are values, so that refusing allocates nothing.
var (
	errMalformedRequestLine = &httpError{http.StatusBadRequest, "malformed request line"}
	errMalformedField       = &httpError{http.StatusBadRequest, "malformed header field"}
	errBareCR               = &httpError{http.StatusBadRequest, "bare CR in the head"}
	errBadContentLength     = &httpError{http.StatusBadRequest, "bad Content-Length"}
	errNoHost               = &httpError{http.StatusBadRequest, "HTTP/1.1 request without Host"}
	errManyHosts            = &httpError{http.StatusBadRequest, "more than one Host"}
	errObsFold              = &httpError{http.StatusBadRequest, "obsolete line folding"}
	errURITooLong           = &httpError{http.StatusRequestURITooLong, "request line longer than the read buffer"}
	errLineTooLong          = &httpError{http.StatusRequestHeaderFieldsTooLarge, "header line longer than the read buffer"}
	errHeadTooLarge         = &httpError{http.StatusRequestHeaderFieldsTooLarge, "request head larger than the limit"}
	errTransferCoding       = &httpError{http.StatusNotImplemented, "a transfer coding other than chunked"}
	errManyTransferEncoding = &httpError{http.StatusBadRequest, "more than one Transfer-Encoding"}
	errTEAndLength          = &httpError{http.StatusBadRequest, "both Transfer-Encoding and Content-Length"}
	errTEInHTTP10           = &httpError{http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request"}
	errBadChunk             = &httpError{http.StatusBadRequest, "malformed chunked body"}
	errTrailerTooLarge      = &httpError{http.StatusBadRequest, "chunked trailer larger than the limit"}
	errVersion              = &httpError{http.StatusHTTPVersionNotSupported, "HTTP major version other than 1"}
)

// reqHead is what the raw target keeps of a request head: nothing that
// points into the read buffer.
type reqHead struct {
	minor         int   // HTTP/1.<minor>: 0 or 1 (1.2 and up count as 1.1)
	head          bool  // method HEAD: no body in the answer
	contentLength int64 // -1: none
	hosts         int
	te            int  // Transfer-Encoding fields
	chunked       bool // Transfer-Encoding: chunked (the only coding served)
	close         bool // Connection: close
	keepAlive     bool // Connection: keep-alive (HTTP/1.0)
	expect100     bool // Expect: 100-continue
	size          int  // bytes of the head read so far
}

// keep reports whether the connection stays open after the answer.
func (h *reqHead) keep() bool {
	if h.close {
		return false
	}
	return h.minor >= 1 || h.keepAlive
}

// readLine reads one line of a head, without its CRLF (or bare LF).
// first says it is the first line of a request: EOF before any byte of it
// is io.EOF, a clean end of the connection; any other EOF is
// io.ErrUnexpectedEOF.
func readLine(br *bufio.Reader, h *reqHead, first bool) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	h.size += len(line)
	switch {
	case err == bufio.ErrBufferFull:
		if first {
			return nil, errURITooLong
		}
		return nil, errLineTooLong
	case err == io.EOF && first && h.size == 0:
		return nil, io.EOF
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	if h.size > rawHeadMax {
		return nil, errHeadTooLarge
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, errBareCR
	}
	return line, nil
}

// readHead reads one request head into h: the request line and the
// fields up to the blank line. It returns io.EOF when the connection ended
// cleanly before a request, an *httpError for a request to refuse, or
// another error when the connection failed.
func readHead(br *bufio.Reader, h *reqHead) error {
	*h = reqHead{contentLength: -1}
	var line []byte
	var err error
	// A server should ignore empty lines before the request line (RFC 9112 §2.2).
	for len(line) == 0 {
		if line, err = readLine(br, h, true); err != nil {
			return err
		}
	}
	if err := parseRequestLine(line, h); err != nil {
		return err
	}
	for {
		if line, err = readLine(br, h, false); err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		if err := parseField(line, h); err != nil {
			return err
		}
	}
	switch {
	case h.minor >= 1 && h.hosts == 0:
		return errNoHost
	case h.te > 1:
		return errManyTransferEncoding
	case h.te == 1 && h.minor == 0:
		// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
		return errTEInHTTP10
	case h.te == 1 && h.contentLength >= 0:
		// RFC 9112 §6.3: a request smuggling attempt, refused.
		return errTEAndLength
	case h.te == 1 && !h.chunked:
		return errTransferCoding
	}
	return nil
}

// parseRequestLine parses "METHOD SP request-target SP HTTP/1.x".
func parseRequestLine(line []byte, h *reqHead) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !isToken(line[:sp1]) {
		return errMalformedRequestLine
	}
	method, rest := line[:sp1], line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errMalformedRequestLine
	}
	for _, c := range rest[:sp2] {
		if c <= ' ' || c == 0x7f {
			return errMalformedRequestLine
		}
	}
	v := rest[sp2+1:]
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return errMalformedRequestLine
	}
	if v[5] != '1' {
		return errVersion
	}
	h.minor = min(int(v[7]-'0'), 1)
	h.head = string(method) == http.MethodHead
	return nil
}

// parseField parses one "name: value" line, keeping what the answer
// depends on.
func parseField(line []byte, h *reqHead) error {
	if line[0] == ' ' || line[0] == '\t' {
		return errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return errMalformedField
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return errMalformedField
		}
	}
	switch len(name) {
	case len("host"):
		if bytes.EqualFold(name, []byte("host")) {
			h.hosts++
			if h.hosts > 1 {
				return errManyHosts
			}
		}
	case len("expect"):
		if bytes.EqualFold(name, []byte("expect")) && bytes.EqualFold(value, []byte("100-continue")) {
			h.expect100 = true
		}
	case len("connection"):
		if bytes.EqualFold(name, []byte("connection")) {
			for len(value) > 0 {
				var opt []byte
				opt, value, _ = bytes.Cut(value, []byte(","))
				opt = trimOWS(opt)
				switch {
				case bytes.EqualFold(opt, []byte("close")):
					h.close = true
				case bytes.EqualFold(opt, []byte("keep-alive")):
					h.keepAlive = true
				}
			}
		}
	case len("content-length"):
		if bytes.EqualFold(name, []byte("content-length")) {
			n, ok := parseLength(value)
			if !ok || (h.contentLength >= 0 && h.contentLength != n) {
				return errBadContentLength
			}
			h.contentLength = n
		}
	case len("transfer-encoding"):
		if bytes.EqualFold(name, []byte("transfer-encoding")) {
			h.te++
			h.chunked = bytes.EqualFold(value, []byte("chunked"))
		}
	}
	return nil
}

// parseLength parses a Content-Length value: 1 to 18 digits.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// trimOWS trims spaces and tabs at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// The answer's fixed parts. The fields are those of targetHandler's
// answer through net/http: Content-Length, Content-Type and Date.
var (
	answerHead = []byte("200 OK\r\nContent-Length: " + strconv.Itoa(len(targetBody)) + "\r\nContent-Type: application/json\r\nDate: ")
	answerBody = []byte(targetBody)
)

// rawDate holds the Date field's value, refreshed once a second.
type rawDate struct{ p atomic.Pointer[[]byte] }

func (d *rawDate) set(t time.Time) {
	b := t.UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat)
	d.p.Store(&b)
}

func (d *rawDate) get() []byte { return *d.p.Load() }

// writeStatusLine writes "HTTP/1.x " with the request's minor version
// (as net/http does).
func writeStatusLine(bw *bufio.Writer, minor int) {
	if minor == 0 {
		bw.WriteString("HTTP/1.0 ")
	} else {
		bw.WriteString("HTTP/1.1 ")
	}
}

// writeAnswer writes the 200 answer to h into bw (without flushing).
func writeAnswer(bw *bufio.Writer, h *reqHead, date []byte) {
	writeStatusLine(bw, h.minor)
	bw.Write(answerHead)
	bw.Write(date)
	switch {
	case !h.keep():
		bw.WriteString("\r\nConnection: close\r\n\r\n")
	case h.minor == 0:
		bw.WriteString("\r\nConnection: keep-alive\r\n\r\n")
	default:
		bw.WriteString("\r\n\r\n")
	}
	if !h.head {
		bw.Write(answerBody)
	}
}

// writeRefusal writes e's status with an empty body and Connection: close.
func writeRefusal(bw *bufio.Writer, e *httpError, date []byte) {
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(e.status))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(e.status))
	bw.WriteString("\r\nContent-Length: 0\r\nConnection: close\r\nDate: ")
	bw.Write(date)
	bw.WriteString("\r\n\r\n")
}

// serveOne reads one request from br and writes its answer into bw,
// flushing only to send a 100 Continue. It returns whether the connection
// stays open; with an error it must be closed after flushing bw (a
// refusal is written before an *httpError is returned).
func serveOne(br *bufio.Reader, bw *bufio.Writer, h *reqHead, date *rawDate) (keep bool, err error) {
	if err := readHead(br, h); err != nil {
		if e, ok := err.(*httpError); ok {
			writeRefusal(bw, e, date.get())
		}
		return false, err
	}
	if h.contentLength > 0 || h.chunked {
		// An HTTP/1.0 client's Expect is ignored (RFC 9110 §10.1.1).
		if h.expect100 && h.minor >= 1 && br.Buffered() == 0 {
			bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := bw.Flush(); err != nil {
				return false, err
			}
		}
		var err error
		if h.chunked {
			err = discardChunked(br)
		} else {
			err = discard(br, h.contentLength)
		}
		if err != nil {
			if e, ok := err.(*httpError); ok {
				writeRefusal(bw, e, date.get())
			}
			return false, err
		}
	}
	writeAnswer(bw, h, date.get())
	return h.keep(), nil
}

// discard reads and drops n bytes of body.
func discard(br *bufio.Reader, n int64) error {
	for n > 0 {
		d, err := br.Discard(int(min(n, 1<<30)))
		n -= int64(d)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// discardChunked reads and drops a chunked body (RFC 9112 §7.1): chunks
// of "size[;ext] CRLF data CRLF", the last of size 0, then trailer fields
// up to a blank line. A size line or trailer field must fit the read
// buffer, the whole trailer rawHeadMax.
func discardChunked(br *bufio.Reader) error {
	var lc reqHead // counts the bytes of a line, or of the trailer
	// bad turns a refusal of readLine (too long, bare CR) into errBadChunk.
	bad := func(err error) error {
		if _, ok := err.(*httpError); ok {
			return errBadChunk
		}
		return err
	}
	for {
		lc.size = 0
		line, err := readLine(br, &lc, false)
		if err != nil {
			return bad(err)
		}
		n, ok := parseChunkSize(line)
		if !ok {
			return errBadChunk
		}
		if n == 0 {
			break
		}
		if err := discard(br, n); err != nil {
			return err
		}
		lc.size = 0
		if line, err = readLine(br, &lc, false); err != nil {
			return bad(err)
		}
		if len(line) != 0 {
			return errBadChunk // data longer than its size
		}
	}
	lc.size = 0
	for {
		line, err := readLine(br, &lc, false)
		switch {
		case err == errHeadTooLarge || err == errLineTooLong:
			return errTrailerTooLarge
		case err != nil:
			return bad(err)
		case len(line) == 0:
			return nil
		case line[0] == ' ' || line[0] == '\t' || bytes.IndexByte(line, ':') <= 0:
			return errBadChunk
		}
	}
}

// parseChunkSize parses a chunk-size line: 1 to 15 hex digits, then
// nothing, or optional white space and ";" extensions (ignored).
func parseChunkSize(line []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d, ok := hexDigit(line[i])
		if !ok {
			break
		}
		if i == 15 {
			return 0, false // beyond 2^60 bytes: not a size anyone sends
		}
		n = n<<4 | int64(d)
	}
	if i == 0 {
		return 0, false
	}
	rest := trimOWS(line[i:])
	return n, len(rest) == 0 || rest[0] == ';'
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// rawServer serves the raw target on a listener: one goroutine per
// connection, each with its own read and write buffer.
type rawServer struct {
	ln   net.Listener
	date rawDate
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// newRawServer returns a server for ln; Serve serves it, Close stops it.
func newRawServer(ln net.Listener) *rawServer {
	s := &rawServer{ln: ln, stop: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.date.set(time.Now())
	s.wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				s.date.set(now)
			case <-s.stop:
				return
			}
		}
	})
	return s
}

// Serve accepts connections until Close; it then returns nil.
func (s *rawServer) Serve() error {
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			return nil
		}
		s.wg.Go(func() {
			defer s.untrack(c)
			serveConn(c, &s.date)
		})
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *rawServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *rawServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *rawServer) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *rawServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	return err
}

// serveConn serves the requests of one connection in order. Answers are
// flushed when the read buffer holds no further (pipelined) request
// bytes, so that a pipelined batch is answered in one write.
func serveConn(c net.Conn, date *rawDate) {
	br := bufio.NewReaderSize(c, rawLineMax)
	bw := bufio.NewWriterSize(c, rawWriteBuf)
	var h reqHead
	for {
		keep, err := serveOne(br, bw, &h, date)
		if !keep || err != nil {
			if bw.Flush() == nil && (err == nil || errors.As(err, new(*httpError))) {
				closeGracefully(c)
				return
			}
			c.Close()
			return
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				c.Close()
				return
			}
		}
	}
}

// closeGracefully closes c after its last answer: it shuts down the
// sending side and reads what the client still sends, for at most a
// second, so that unread request bytes do not make the kernel reset the
// connection before the client has read the answer.
func closeGracefully(c net.Conn) {
	defer c.Close()
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if tc.CloseWrite() != nil {
		return
	}
	_ = tc.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.CopyN(io.Discard, tc, 256<<10)
}
