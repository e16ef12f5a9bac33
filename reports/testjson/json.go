package testjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// rawEvent is one line of `go test -json` as decoded, before output is
// joined into lines.
type rawEvent struct {
	Time        time.Time
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
	ImportPath  string
	Key         string
	Value       string
}

var errSlowPath = errors.New("slow path")

// decoder holds what decoding reuses from one event to the next.
type decoder struct {
	scratch []byte
	interns map[string]string
}

// maxInterns bounds the interned package and test names.
const maxInterns = 4096

// intern returns s as a string, reusing the string of an earlier event:
// package and test names repeat on almost every line.
func (d *decoder) intern(s []byte) string {
	if v, ok := d.interns[string(s)]; ok {
		return v
	}
	if d.interns == nil || len(d.interns) >= maxInterns {
		d.interns = make(map[string]string)
	}
	v := string(s)
	d.interns[v] = v
	return v
}

// decodeEvent decodes one JSON line into ev. It has a fast path for the flat
// objects test2json writes (string and number values only) and falls back
// to encoding/json for anything else, so its result is always what
// encoding/json would give.
func decodeEvent(line []byte, ev *rawEvent, d *decoder) error {
	*ev = rawEvent{}
	err := decodeFast(line, ev, d)
	if err == nil {
		return nil
	}
	return decodeStd(line, ev)
}

// decodeStd decodes line with encoding/json: decodeEvent's slow path, and
// the reference its fast path is fuzzed against.
func decodeStd(line []byte, ev *rawEvent) error {
	*ev = rawEvent{}
	var std struct {
		Time        *time.Time
		Action      string
		Package     string
		Test        string
		Elapsed     float64
		Output      string
		FailedBuild string
		ImportPath  string
		Key         string
		Value       string
	}
	if err := json.Unmarshal(line, &std); err != nil {
		return err
	}
	if std.Time != nil {
		ev.Time = *std.Time
	}
	ev.Action, ev.Package, ev.Test = std.Action, std.Package, std.Test
	ev.Elapsed, ev.Output, ev.FailedBuild = std.Elapsed, std.Output, std.FailedBuild
	ev.ImportPath, ev.Key, ev.Value = std.ImportPath, std.Key, std.Value
	return nil
}

// decodeFast parses a flat JSON object with string or number values.
// It returns errSlowPath for anything it does not handle (nested values,
// unknown escapes, duplicate-sensitive cases); the caller then uses
// encoding/json, which also produces the precise error message.
func decodeFast(b []byte, ev *rawEvent, d *decoder) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSlowPath
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return checkEnd(b, i+1)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errSlowPath
		}
		// Keys are plain ASCII in test2json output.
		j := i + 1
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 && b[j] < 0x7f {
			j++
		}
		if j >= len(b) || b[j] != '"' {
			return errSlowPath
		}
		key := b[i+1 : j]
		if !knownString(key) && string(key) != "Elapsed" && foldsToKnown(key) {
			// encoding/json matches field names case-insensitively.
			return errSlowPath
		}
		i = skipWS(b, j+1)
		if i >= len(b) || b[i] != ':' {
			return errSlowPath
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return errSlowPath
		}
		switch c := b[i]; {
		case c == '"':
			s, n, err := parseString(b, i, &d.scratch)
			if err != nil {
				return err
			}
			i = n
			if err := d.setString(ev, key, s); err != nil {
				return err
			}
		case c == '-' || (c >= '0' && c <= '9'):
			j := scanNumber(b, i)
			if j < 0 {
				return errSlowPath
			}
			if string(key) != "Elapsed" {
				if knownString(key) {
					return errSlowPath // type mismatch: let encoding/json explain
				}
				i = j
				break
			}
			f, err := strconv.ParseFloat(string(b[i:j]), 64)
			if err != nil {
				return errSlowPath
			}
			ev.Elapsed = f
			i = j
		default:
			return errSlowPath
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return errSlowPath
		}
		if b[i] == '}' {
			return checkEnd(b, i+1)
		}
		if b[i] != ',' {
			return errSlowPath
		}
		i = skipWS(b, i+1)
	}
}

func checkEnd(b []byte, i int) error {
	if skipWS(b, i) != len(b) {
		return errSlowPath
	}
	return nil
}

var knownKeys = []string{"Time", "Action", "Package", "Test", "Output", "FailedBuild", "ImportPath", "Key", "Value", "Elapsed"}

func foldsToKnown(key []byte) bool {
	for _, k := range knownKeys {
		if bytes.EqualFold(key, []byte(k)) {
			return true
		}
	}
	return false
}

func knownString(key []byte) bool {
	switch string(key) {
	case "Time", "Action", "Package", "Test", "Output", "FailedBuild", "ImportPath", "Key", "Value":
		return true
	}
	return false
}

func (d *decoder) setString(ev *rawEvent, key, s []byte) error {
	switch string(key) {
	case "Time":
		t, err := time.Parse(time.RFC3339Nano, string(s))
		if err != nil {
			return errSlowPath
		}
		ev.Time = t
	case "Action":
		ev.Action = internAction(s)
	case "Package":
		ev.Package = d.intern(s)
	case "Test":
		ev.Test = d.intern(s)
	case "Output":
		ev.Output = string(s)
	case "FailedBuild":
		ev.FailedBuild = string(s)
	case "ImportPath":
		ev.ImportPath = d.intern(s)
	case "Key":
		ev.Key = string(s)
	case "Value":
		ev.Value = string(s)
	case "Elapsed":
		return errSlowPath
	}
	return nil
}

var actions = []string{"output", "run", "pass", "fail", "skip", "pause", "cont", "start", "bench", "attr", "build-output", "build-fail"}

func internAction(s []byte) string {
	for _, a := range actions {
		if string(s) == a {
			return a
		}
	}
	return string(s)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// parseString parses the JSON string starting at b[i] == '"'. The returned
// slice aliases b when there are no escapes and *scratch otherwise; it is
// valid until the next call.
func parseString(b []byte, i int, scratch *[]byte) ([]byte, int, error) {
	j := i + 1
	// Most strings have no escapes: find the closing quote fast, eight
	// bytes per step while none of them needs a look.
	for j+8 <= len(b) {
		if strSpecial[b[j]]|strSpecial[b[j+1]]|strSpecial[b[j+2]]|strSpecial[b[j+3]]|
			strSpecial[b[j+4]]|strSpecial[b[j+5]]|strSpecial[b[j+6]]|strSpecial[b[j+7]] != 0 {
			break
		}
		j += 8
	}
	for j < len(b) && strSpecial[b[j]] == 0 {
		j++
	}
	if j < len(b) && b[j] == '"' {
		s := b[i+1 : j]
		if !utf8.Valid(s) {
			return nil, 0, errSlowPath
		}
		return s, j + 1, nil
	}
	out := append((*scratch)[:0], b[i+1:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			*scratch = out
			if !utf8.Valid(out) {
				return nil, 0, errSlowPath
			}
			return out, j + 1, nil
		case c < 0x20:
			return nil, 0, errSlowPath
		case c == '\\':
			if j+1 >= len(b) {
				return nil, 0, errSlowPath
			}
			if e := unescape[b[j+1]]; e != 0 {
				out = append(out, e)
				j += 2
				continue
			}
			switch b[j+1] {
			case 'u':
				r, ok := hex4(b, j+2)
				if !ok {
					return nil, 0, errSlowPath
				}
				j += 6
				if utf16IsSurrogate(r) {
					// Needs a following low surrogate; let encoding/json do it.
					return nil, 0, errSlowPath
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, 0, errSlowPath
			}
		default:
			out = append(out, c)
			j++
		}
	}
	return nil, 0, errSlowPath
}

// strSpecial marks the bytes that end the fast scan of a string: the
// quote, the backslash and control characters.
var strSpecial = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 1
	}
	t['"'], t['\\'] = 1, 1
	return t
}()

// unescape maps the letter after a backslash in a JSON string to the byte
// it stands for (0: not a one-byte escape).
var unescape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f'}

func utf16IsSurrogate(r rune) bool { return r >= 0xd800 && r < 0xe000 }

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanNumber returns the end of the JSON number at b[i:], or -1 if there
// is none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) int {
	digits := func(i int) int {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}
