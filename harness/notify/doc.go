// Package notify is the harness's Genesys Cloud notification channel
// client: it creates a channel over REST, subscribes topics, holds the
// channel's WebSocket open, and measures how stable it is.
//
// # Use
//
//	col := notify.NewCollector() // one per run, shared by every client
//	c, err := notify.Open(ctx, notify.Options{
//		API:    client.Agent(i), // *api.Client: its token, limiter, retries, recorder, gate
//		Gate:   guard,           // optional: the dials count against the guard's budget
//		Topics: []string{"v2.users." + userID + ".presence"},
//		Collector: col, Recorder: recorder, // *metrics.Recorder
//	})
//	...
//	c.Expect(correlationID, topic, sentAt) // before the REST call that causes the event
//	...
//	c.Close()
//	doc := recorder.Snapshot() // doc.WebSocket holds the channels' figures
//
// The figures of the result document (connects, heartbeats, drops,
// reconnects, matched events and their push latency, lost events) are
// aggregated once, by the Recorder; col.Stats() reads them from it and adds
// what only the Collector counts (gaps, closes, topics, switchovers,
// evictions, duplicates).
//
// Open does POST /api/v2/notifications/channels, then PUT
// .../channels/{id}/subscriptions with the topics (a rejected topic fails
// Open, naming the topic and the server's reason), then dials the
// connectUri. The client then runs two goroutines per client: a reader per
// connection (read limit, a read deadline of Options.DeadAfter renewed by
// every message) and one writer/supervisor that sends {"message":"ping"}
// every Options.PingInterval, handles socket_closing and drops, and closes
// with a normal-closure frame, waiting at most Options.CloseWait for the
// server's answer.
//
// # Platform limits to plan for
//
//   - 1000 topics per channel (MaxTopicsPerChannel): Open refuses more.
//   - 20 channels per user or app (MaxChannelsPerUser): the 21st evicts the
//     least recently used channel, idle ones first. A client-credentials
//     token has no user, so every client of one OAuth client shares these
//     20: 500 agents on one OAuth client cannot each hold a channel. Give
//     agents user tokens, spread them over OAuth clients, or put many
//     agents' topics on one channel (up to 1000 topics). An evicted client
//     sees v2.system.no_longer_subscribed (Stats.Evictions), and recovers
//     with a new channel, which in turn evicts the owner's least recently
//     used channel: with more than 20 clients per owner they evict each
//     other until each gives up after Options.MaxReconnects attempts.
//   - A channel lives 24 h, extended by subscribing. The client does not
//     renew it; a run longer than 24 h sees it expire as a drop followed by
//     a new channel.
//
// # Measurements
//
// The clients of a run share a Collector and a Recorder (see Use).
//
//   - Connects, drops and reconnects (Recorder), closes by code and reason
//     ("1000", "1006 unexpected EOF", "error: i/o timeout"), and the longest
//     time to recover (Collector).
//   - Heartbeats and gaps: a heartbeat later than 1.5 heartbeat intervals
//     after the previous one (or the connect) ends a Gap, kept with its
//     timestamps and the number of heartbeats missed; so does the silence
//     before a socket's end (Collector). MaxHeartbeatGap is the longest
//     interval between heartbeats (Recorder).
//   - Pongs: answers to {"message":"ping"} (Collector).
//   - Events per topic, and push latency: Expect(correlationID, topic,
//     sentAt) registers an event a caller caused; the event whose
//     metadata.CorrelationId (and topic, unless "") matches records
//     arrival − sentAt. Set the request's ININ-Correlation-Id header yourself
//     and call Expect before sending, or the event can arrive before Expect.
//     An expectation unmatched after Options.ExpectTimeout, or at Close, is
//     Lost. Only matched events go to the Recorder (metrics.WSEvent, whose
//     histogram has no "not measured" value); Stats.Events counts all
//     delivered events.
//
// # socket_closing and drops
//
// On v2.system.socket_closing the client creates a new channel, subscribes
// the same topics, connects, and only then closes the old socket: it sends
// a close frame and keeps reading the old socket until the server's close
// answer (at most Options.CloseWait), delivering what the server still sends
// on it, such as events published after the new channel was subscribed but
// before its socket connected. Events that arrive on both sockets in the overlap are delivered once: per key
// (topic, correlation id, body) the client delivers as many as the larger of
// the two sockets' counts, so a genuine repeat is not lost. The dedupe ends
// at the first heartbeat or pong on the new socket after the old one closed
// (the server's queue is FIFO, so anything sent before has arrived). A
// channel request the server refuses (429, 5xx), as when every client of a
// socket_closing storm asks at once, is tried again after the larger of
// Retry-After and Backoff.Delay, while the old socket keeps delivering. The
// switchover counts as a reconnect, not a drop.
//
// Any other end of a socket (an abrupt drop, a close the client did not ask
// for, DeadAfter of silence, a failed ping write) is a drop: the client
// reconnects to the same channel, or to a new one if the channel is gone
// (404 or no_longer_subscribed), after Backoff.Delay(attempt, Rand()), up to
// MaxReconnects attempts. Jitter and clock are injected (Options.Rand,
// Options.Now); waits use timers, so tests run under testing/synctest.
//
// # Memory
//
// BenchmarkIdleClients holds idle clients over loopback TCP against gcsim
// running in a child process and reports the harness memory per client;
// the target is at most 16 KiB.
package notify
