// Package workload decides when a load test does its work: how many
// iterations start, when, and on which of its agents (the concurrent
// workers, k6's virtual users). What an iteration does is the caller's
// [IterFunc].
//
// # Open and closed models
//
// A closed model ([Closed]) runs N agents, each looping: one iteration,
// then a think time ([ConstantThink], [UniformThink], [ExponentialThink]).
// Its throughput follows the target: when responses slow down, fewer
// iterations start. The number of active agents may follow a [Ramp].
//
// An open model ([Open]) starts iterations when its [Pacer] says, whatever
// the target does. An arrival that finds every agent busy is dropped and
// counted in [Stats].Dropped, never queued: a queue would hide the overload
// it reveals (coordinated omission). Each [Iteration] carries its Intended
// start, so latency can be measured from when the work should have begun.
//
//	o := workload.Open{Pacer: workload.ConstantPacer{Freq: 50, Duration: time.Minute}, Agents: 20}
//	st, err := o.Run(ctx, func(ctx context.Context, it workload.Iteration) error {
//		return send(ctx, it.Intended)
//	})
//
// # Pacers
//
// A [Pacer] is a pure function of the elapsed time and the arrivals so far
// (the shape of vegeta's): [ConstantPacer] for a fixed rate,
// [NewLinearPacer] for a linear ramp, [NewStagesPacer] for stages. A
// [Schedule] also says when any arrival is due, which lets [ShardSchedule]
// give each of n machines every n-th arrival at the same time as one
// machine would have issued it.
//
// # Stages
//
// [ParseStages] reads stages in a compact form, "duration:target,…", e.g.
// "10s:50,30s:50,5s:0" (up to 50 in 10 s, hold for 30 s, down to 0 in
// 5 s), or as k6 JSON, [{"duration":"10s","target":50},…]. The target is
// an arrival rate for a stages pacer and a number of active agents for a
// [Ramp]; between stages it moves linearly.
//
// # Stopping
//
// A run stops starting iterations when the pacer or ramp ends, at
// MaxDuration, after MaxIterations, or when its context is canceled; the
// reason is [Stats].Reason. After a normal end, iterations in flight get
// GracefulStop ([DefaultGracefulStop] if zero) to return before their
// context is canceled; a canceled run context cancels them at once. Those
// still running then are counted as Interrupted.
//
// # Shards
//
// With Shard set to "i/n" (package shard), an executor runs only this
// machine's part: the agents k with k mod n = i−1, every n-th arrival, and
// its part of MaxIterations. n shards together do what one run would.
package workload
