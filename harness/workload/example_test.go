package workload_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/harness/workload"
)

// A k6-like ramp of arrivals: up to 50/s in 10 s, hold 30 s, down in 5 s.
// Integrating the pacer over simulated time gives the configured number of
// arrivals in each stage: the area under the rate.
func ExampleStagesPacer() {
	stages, err := workload.ParseStages("10s:50,30s:50,5s:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := workload.NewStagesPacer(0, stages)
	if err != nil {
		fmt.Println(err)
		return
	}
	var (
		elapsed  time.Duration
		hits     uint64
		perStage = make([]int, len(stages))
	)
	for {
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			break
		}
		elapsed += wait
		hits++
		var end time.Duration
		for i, s := range stages {
			if end += s.Duration; elapsed < end {
				perStage[i]++
				break
			}
		}
	}
	for i, s := range stages {
		fmt.Printf("stage %d %-6v %d arrivals\n", i+1, s, perStage[i])
	}
	fmt.Println("total", hits, "of", p.Arrivals())
	// Output:
	// stage 1 10s:50 250 arrivals
	// stage 2 30s:50 1500 arrivals
	// stage 3 5s:0   125 arrivals
	// total 1875 of 1875
}

// Shards split a run over machines: each issues every n-th arrival of the
// schedule, at the same time as the unsharded run would.
func ExampleShardSchedule() {
	p := workload.ConstantPacer{Freq: 10, Duration: time.Second}
	for i := 1; i <= 3; i++ {
		sh := shard.Shard{Index: i, Count: 3}
		sp := workload.ShardSchedule(sh, p)
		var due []time.Duration
		for h := uint64(0); ; h++ {
			at, ok := sp.Due(h)
			if !ok {
				break
			}
			due = append(due, at)
		}
		fmt.Printf("%v: arrivals at %v\n", sh, due)
	}
	// Output:
	// 1/3: arrivals at [0s 300ms 600ms 900ms]
	// 2/3: arrivals at [100ms 400ms 700ms]
	// 3/3: arrivals at [200ms 500ms 800ms]
}

// An open model: 200 arrivals per second for 100 ms, on 4 agents. The
// IterFunc would send requests, with metrics.Result.Intended = it.Intended.
func ExampleOpen() {
	o := workload.Open{
		Pacer:  workload.ConstantPacer{Freq: 200, Duration: 100 * time.Millisecond},
		Agents: 4,
	}
	st, err := o.Run(context.Background(), func(ctx context.Context, it workload.Iteration) error {
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("arrivals", st.Arrivals, "started+dropped", st.Started+st.Dropped, "reason", st.Reason)
	// Output:
	// arrivals 20 started+dropped 20 reason pacer
}
