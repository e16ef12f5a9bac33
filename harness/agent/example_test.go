package agent_test

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
)

// A k6-like ramp of arrivals: up to 50/s in 10 s, hold 30 s, down in 5 s.
// Integrating the pacer over simulated time gives the configured number of
// arrivals in each stage: the area under the rate.
func ExampleStagesPacer() {
	stages, err := agent.ParseStages("10s:50,30s:50,5s:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := agent.NewStagesPacer(0, stages)
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

// Shards split a run over machines: each takes every n-th arrival, its
// agents, and its part of every budget.
func ExampleShard() {
	p := agent.ConstantPacer{Freq: 10, Duration: time.Second}
	for i := 1; i <= 3; i++ {
		sh, err := agent.ParseShard(fmt.Sprintf("%d/3", i))
		if err != nil {
			fmt.Println(err)
			return
		}
		var due []time.Duration
		for h := uint64(0); ; h++ {
			at, ok := sh.Pacer(p).Due(h)
			if !ok {
				break
			}
			due = append(due, at)
		}
		fmt.Printf("%v: arrivals at %v, agents %v, budget %d of 300/min\n", sh, due, sh.Agents(8), sh.Split(300))
	}
	_, err := agent.ParseShard("4/3")
	fmt.Println(err)
	// Output:
	// 1/3: arrivals at [0s 300ms 600ms 900ms], agents [0 3 6], budget 100 of 300/min
	// 2/3: arrivals at [100ms 400ms 700ms], agents [1 4 7], budget 100 of 300/min
	// 3/3: arrivals at [200ms 500ms 800ms], agents [2 5], budget 100 of 300/min
	// agent: shard "4/3": index 4 out of range: want "i/n" with 1 ≤ i ≤ n (here 1 ≤ i ≤ 3)
}

// An open model: 200 arrivals per second for 100 ms, on 4 agents. The
// IterFunc would send requests, with metrics.Result.Intended = it.Intended.
func ExampleOpen() {
	o := agent.Open{
		Pacer:  agent.ConstantPacer{Freq: 200, Duration: 100 * time.Millisecond},
		Agents: 4,
	}
	st, err := o.Run(context.Background(), func(ctx context.Context, it agent.Iteration) error {
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

// A population of 3 agents on the simulator goes on queue; each helper is a
// named operation in the recorder.
func ExamplePopulation() {
	srv := gcsim.NewServer(nil)
	defer srv.Close()
	pool, err := auth.NewPool(auth.Config{
		TokenURL:    srv.URL() + "/oauth/token",
		Clients:     []auth.Credentials{{ClientID: gcsim.DefaultClientID, Secret: gcsim.DefaultClientSecret}},
		Policy:      auth.PerAgent, // one token per agent
		Agents:      3,
		HTTPClient:  srv.Client(),
		CreateLimit: rate.Inf, // the simulator allows 300 token creations per minute
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := metrics.NewRecorder()
	client, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Recorder: rec, HTTPClient: srv.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	ctx := context.Background()
	users, err := agent.LoadUsers(ctx, client, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	pop, err := agent.NewPopulation(agent.Config{API: client, Users: users})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pop.Close()
	for _, a := range pop.Agents() {
		if err := a.GoOnQueue(ctx); err != nil {
			fmt.Println(err)
			return
		}
		st := a.State()
		fmt.Println(a, st.PresenceName, st.RoutingStatus)
	}
	doc := rec.Snapshot()
	for _, op := range []string{agent.OpPresenceSet, agent.OpRoutingStatusSet} {
		fmt.Println(op, doc.Op(op).Count)
	}
	// Output:
	// agent 0 (Agent 0001) On Queue IDLE
	// agent 1 (Agent 0002) On Queue IDLE
	// agent 2 (Agent 0003) On Queue IDLE
	// presence.set 3
	// routingstatus.set 3
}
