package clip_test

import (
	"testing"

	"github.com/cxload/cxload/internal/clip"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},    // fits
		{"exactly", 7, "exactly"}, // fits exactly
		{"too long", 3, "too…"},   // cut
		{"héllo", 2, "h…"},        // é is 2 bytes: not split
		{"héllo", 3, "hé…"},       // cut after é
		{"", 0, ""},               // empty
	} {
		if got := clip.String(tc.s, tc.n); got != tc.want {
			t.Errorf("String(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
