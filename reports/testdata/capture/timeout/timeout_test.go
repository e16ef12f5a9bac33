// Package timeout is a throwaway package whose test outlives -timeout.
package timeout

import (
	"testing"
	"time"
)

func TestQuick(t *testing.T) {}

func TestHangs(t *testing.T) {
	time.Sleep(time.Minute)
}
