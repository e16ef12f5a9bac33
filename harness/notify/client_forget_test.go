package notify

import (
	"testing"
	"time"
)

func TestForgetWithdrawsExpectation(t *testing.T) {
	c := &Client{o: Options{Collector: NewCollector()}}
	c.Expect("corr-1", "v2.users.u1.presence", time.Unix(0, 0))
	c.Expect("corr-2", "v2.users.u1.presence", time.Unix(0, 0))
	c.Forget("corr-1", "v2.users.u1.presence")
	c.Forget("corr-1", "v2.users.u1.presence") // already gone: no-op
	c.Forget("corr-9", "v2.users.u1.presence") // never expected: no-op
	if got := len(c.expect); got != 1 {
		t.Fatalf("after Forget, %d expectations pending, want 1", got)
	}
	if got := c.o.Collector.Stats().Expected; got != 1 {
		t.Fatalf("Collector Expected = %d after one Forget of two, want 1", got)
	}
}
