package reports

import (
	"net/url"
	"strings"
)

// Escaping of text for Markdown: what a run carries (test names, output,
// labels) must not open a heading, a list, code or a link.

// mdEscape makes text the report did not write (test and scenario names,
// labels, messages, run ids) inert in Markdown, so that it can neither break
// a table row or list item nor add emphasis, code, links, images, math or
// HTML: line breaks become spaces, <, > and & become entities, and the
// characters that would start markup are backslash-escaped: always \ ` * ~
// | $, "](" (a link), and at the start what would begin a heading, list or
// link definition. Characters that start nothing where they stand (an
// underscore inside a word, a bracket that is not a link) stay as they are,
// to keep the report readable as text.
func mdEscape(s string) string {
	s = strings.TrimSpace(oneLine(s))
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '`', '*', '~', '|', '$':
			b.WriteByte('\\')
		case '_':
			if i == 0 || i == len(s)-1 || !isAlnum(s[i-1]) || !isAlnum(s[i+1]) {
				b.WriteByte('\\')
			}
		case ']':
			if i+1 < len(s) && s[i+1] == '(' {
				b.WriteByte('\\')
			}
		case '[', '#':
			if i == 0 {
				b.WriteByte('\\') // a link definition or a heading
			}
		case '-', '+':
			if i == 0 && endsMarker(s, i) {
				b.WriteByte('\\') // a list item
			}
		case '.', ')':
			if isDigits(s[:i]) && endsMarker(s, i) {
				b.WriteByte('\\') // "1. " or "1) ": an ordered list
			}
		case '<':
			b.WriteString("&lt;")
			continue
		case '>':
			b.WriteString("&gt;")
			continue
		case '&':
			b.WriteString("&amp;")
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// endsMarker reports whether the list marker ending at s[i] is one: the text
// ends there or a space follows.
func endsMarker(s string, i int) bool { return i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t' }

// mdCode writes text the report did not write as a code span: the fence is
// longer than any run of backticks in s, and line breaks become spaces. In a
// table, | is escaped: GitHub ends a cell at a bare | even in a code span.
func mdCode(s string, inTable bool) string {
	s = oneLine(s)
	if inTable {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	run, longest := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdLink writes a link to rawURL, or the URL as text when it is not an
// absolute http(s) URL.
func mdLink(text, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return mdEscape(text + " " + rawURL)
	}
	return "[" + mdEscape(text) + "](<" + mdURL.Replace(u.String()) + ">)"
}

// mdURL escapes what would end a link destination written in <...>.
var mdURL = strings.NewReplacer("<", "%3C", ">", "%3E", "\n", "%0A", "\r", "%0D", "\\", "%5C", " ", "%20")

// oneLine replaces line breaks with spaces.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// isDigits reports whether prefix is 1 to 9 digits: the number of an
// ordered list item.
func isDigits(prefix string) bool {
	if len(prefix) == 0 || len(prefix) > 9 {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if prefix[i] < '0' || prefix[i] > '9' {
			return false
		}
	}
	return true
}
