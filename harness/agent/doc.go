// Package agent drives a population of simulated contact-center agents
// against a Genesys Cloud target: who the agents are (identity, token, state),
// what they do (go on queue, subscribe to their topics, take calls, change the
// recording state, go off queue), and when they do it (workload models).
//
// # Workload models
//
// Load is either closed or open.
//
//   - A closed model ([Closed]) runs N agents, each looping: one iteration,
//     then a think time ([Think]: [ConstantThink], [UniformThink],
//     [ExponentialThink]). The number of active agents may follow a [Ramp]
//     of stages (ramp-up, hold, ramp-down). Its throughput depends on how
//     fast the target answers.
//   - An open model ([Open]) starts iterations at a target arrival rate set by
//     a [Pacer] ([ConstantPacer], [StagesPacer], [LinearPacer]), whatever
//     the target does. An arrival that finds every agent busy is counted as
//     dropped, never queued: a queue would hide the overload it reveals
//     (coordinated omission). Each iteration carries its intended start
//     time, so latency can be measured from when the request should have
//     been sent.
//
// Pacing is a pure function of the elapsed time and the number of arrivals
// so far (the shape of vegeta's Pacer); it is tested with tables, without a
// clock. The executors run under testing/synctest in tests.
//
// # Shards
//
// A [Shard] "i/n" (from CXLOAD_SHARD or an option) makes one of n machines do
// exactly its part: agent k belongs to shard (k mod n)+1, arrival g of a pacer
// belongs to shard (g mod n)+1, and integer budgets are split so that the n
// parts add up to the total. n shards together issue exactly the arrivals
// and use exactly the agents of one unsharded run.
package agent
