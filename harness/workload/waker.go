package workload

import (
	"container/heap"
	"sync"
	"time"
)

// waker is the one timer of a closed run: agents that sleep (think time,
// waiting for the ramp to activate them) and iterations that the ramp-down
// bound may cancel register a wake-up in its heap, and one goroutine fires
// them in time order. Agents thus hold no timer of their own: 10,000
// thinking agents are 10,000 heap entries, not 10,000 runtime timers.
type waker struct {
	mu    sync.Mutex
	h     wakeHeap
	kick  chan struct{} // a new earliest entry: re-arm the timer
	timer *time.Timer
}

// wakeEntry is one registered wake-up.
type wakeEntry struct {
	at   time.Time
	a    *closedAgent
	seq  uint64 // the agent's sleep or iteration it belongs to
	kind wakeKind
}

type wakeKind uint8

const (
	wakeSleep  wakeKind = iota // end of a sleep: signal a.wake
	wakeCutoff                 // ramp-down bound: cancel the iteration
)

type wakeHeap []wakeEntry

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wakeEntry)) }
func (h *wakeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = wakeEntry{}
	*h = old[:len(old)-1]
	return e
}

func newWaker(timer *time.Timer) *waker {
	return &waker{kick: make(chan struct{}, 1), timer: timer}
}

// add registers e and re-arms the timer if e is now the earliest.
func (w *waker) add(e wakeEntry) {
	w.mu.Lock()
	heap.Push(&w.h, e)
	first := w.h[0].a == e.a && w.h[0].seq == e.seq && w.h[0].kind == e.kind
	w.mu.Unlock()
	if first {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// run fires due entries until done is closed.
func (w *waker) run(done <-chan struct{}) {
	defer w.timer.Stop()
	for {
		w.mu.Lock()
		now := time.Now()
		for len(w.h) > 0 && !w.h[0].at.After(now) {
			e := heap.Pop(&w.h).(wakeEntry)
			e.a.fire(e)
		}
		next := time.Duration(-1)
		if len(w.h) > 0 {
			next = w.h[0].at.Sub(now)
		}
		w.mu.Unlock()
		if next >= 0 {
			w.timer.Reset(next)
		} else {
			w.timer.Stop()
		}
		select {
		case <-w.timer.C:
		case <-w.kick:
		case <-done:
			return
		}
	}
}
