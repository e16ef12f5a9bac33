package workload_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/harness/workload"
)

func noop(context.Context, workload.Iteration) error { return nil }

// BenchmarkOpenDispatch measures the open executor's cost per arrival: the
// pacer, finding an idle agent, the hand-off and the accounting. The rate is
// so high that every arrival is due at once, so most find every agent busy
// (the worst case of the idle search).
func BenchmarkOpenDispatch(b *testing.B) {
	for _, agents := range []int{64, 10_000} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) {
			b.ReportAllocs()
			o := workload.Open{Pacer: workload.ConstantPacer{Freq: 1e12}, Agents: agents, MaxIterations: uint64(b.N)}
			b.ResetTimer()
			st, err := o.Run(context.Background(), noop)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
		})
	}
}

// BenchmarkClosedIteration measures the closed executor's cost per
// iteration of 8 agents without think time.
func BenchmarkClosedIteration(b *testing.B) {
	b.ReportAllocs()
	c := workload.Closed{Agents: 8, MaxIterations: uint64(b.N)}
	b.ResetTimer()
	if _, err := c.Run(context.Background(), noop); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkClosedIdleAgents reports the memory an idle agent of a closed
// executor costs (its goroutine, timer and state), with 10,000 agents
// waiting for a ramp that activates them in an hour.
func BenchmarkClosedIdleAgents(b *testing.B) {
	const agents = 10_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithCancel(context.Background())
		active := make(chan struct{})
		c := workload.Closed{Agents: agents, Ramp: &workload.Ramp{Stages: []workload.Stage{{time.Hour, 0}, {time.Hour, agents}}}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(ctx, func(context.Context, workload.Iteration) error { close(active); return nil })
		}()
		// Let every agent reach its wait.
		for range 50 {
			runtime.Gosched()
			time.Sleep(2 * time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		cancel()
		<-done
		used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
		b.ReportMetric(float64(used)/agents, "B/agent")
		select {
		case <-active:
			b.Fatal("an agent ran before its activation")
		default:
		}
	}
}

func BenchmarkShardPacerDue(b *testing.B) {
	p := workload.ShardSchedule(shard.Shard{Index: 3, Count: 4}, mustStages(b, 0, workload.Stage{Duration: 10 * time.Second, Target: 50}, workload.Stage{Duration: 30 * time.Second, Target: 50}, workload.Stage{Duration: 5 * time.Second, Target: 0}))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Due(uint64(i % 468))
	}
}
