// Package clip shortens texts shown in errors: a server's message, an OAuth
// error description.
package clip

import "unicode/utf8"

// String returns s if it has at most n bytes, else its first n bytes (fewer
// if the n-th falls inside a UTF-8 sequence) followed by "…".
func String(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
