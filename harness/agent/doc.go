// Package agent drives a population of simulated contact-center agents
// against a Genesys Cloud target: who the agents are ([User], [LoadUsers],
// [ReadUsers]), their state ([Agent], [State]), and what they do: go on
// queue, subscribe to their topics ([NotifyChannels]), take calls, change
// the recording state, go off queue. Each operation is a named request of
// the agent's api.Client, so the recorder reports it per operation.
//
// When the agents act is up to package workload: [Population.Iter] adapts a
// function of an agent to a workload.IterFunc for its Open and Closed
// executors, and primes the agent with the iteration's intended start, so
// latency is measured free of coordinated omission.
//
// With a shard "i/n" (package shard) in [Config].Shard, a [Population]
// holds only the agents k with k mod n = i−1: n machines together run each
// agent of the population exactly once.
package agent
