package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/internal/safefile"
)

// EnvStateDir is where runs keep their state files (default
// DefaultStateDir). On a simulator, setting it turns the recording on.
const EnvStateDir = "CXLOAD_STATE_DIR"

// DefaultStateDir returns os.TempDir()/cxload-state.
func DefaultStateDir() string { return filepath.Join(os.TempDir(), "cxload-state") }

// stateVersion is the state file's format.
const stateVersion = 1

// MaxStateFileSize bounds a state file read by RestoreState.
const MaxStateFileSize = 64 << 20

// State is what a run changed on its target, recorded before each change
// so that it can be put back: the users' presence and queue memberships as
// they were before the run's first change of them, and the calls the run
// placed. It holds ids only, never a token or secret. It is the JSON of a
// state file.
type State struct {
	Version int       `json:"version"`
	Target  string    `json:"target"`  // "tenant <region>" or "simulator"
	APIBase string    `json:"apiBase"` // the API the changes went to
	Run     string    `json:"run"`     // the target's name (the test's)
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Presence maps a user id to the presence definition id it had.
	Presence map[string]string `json:"presence,omitempty"`
	// Queues maps a user id to the queues the run changed and whether the
	// user had joined them.
	Queues map[string]map[string]bool `json:"queues,omitempty"`
	// Calls are the conversation ids of the calls the run placed.
	Calls []string `json:"calls,omitempty"`
}

// changes counts what s would put back.
func (s *State) changes() int {
	n := len(s.Presence) + len(s.Calls)
	for _, qs := range s.Queues {
		n += len(qs)
	}
	return n
}

// Restored counts what a restore put back.
type Restored struct {
	Presence int // users whose presence was set back
	Queues   int // queue memberships set back
	Calls    int // calls hung up (or already ended)
	// Failed are the changes that could not be put back; they stay in the
	// state file for go run ./scripts/restore.
	Failed []error
}

func (r *Restored) add(o Restored) {
	r.Presence += o.Presence
	r.Queues += o.Queues
	r.Calls += o.Calls
	r.Failed = append(r.Failed, o.Failed...)
}

// String is the restore's one line, without its "cxload restore:" prefix.
func (r Restored) String() string {
	s := fmt.Sprintf("%d users' presence, %d queue memberships, %d calls hung up", r.Presence, r.Queues, r.Calls)
	if len(r.Failed) > 0 {
		s += fmt.Sprintf("; %d could not be restored (first: %v)", len(r.Failed), r.Failed[0])
	}
	return s
}

// recorder keeps a run's State in its state file: it is the ChangeGate of
// the target's clients (around the guard on a tenant), reads a user's
// presence or queues before the run's first change of them, and notes the
// calls placed.
type recorder struct {
	path string
	logf func(format string, args ...any)

	snap sync.Map // "presence/<user>" or "queues/<user>" → *sync.Mutex: one snapshot at a time

	mu       sync.Mutex
	st       State
	saved    bool // the file exists
	restored bool // Close restored: later writes are refused

	once   sync.Once     // the restore
	err    error         // its error
	closed chan struct{} // closed when Close has restored
}

var stateSeq atomic.Int64

// newRecorder returns the recorder of a run writing to dir.
func newRecorder(dir, target, apiBase, run string, logf func(string, ...any)) *recorder {
	name := fmt.Sprintf("cxload-%d-%d.json", os.Getpid(), stateSeq.Add(1))
	return &recorder{path: filepath.Join(dir, name), logf: logf, closed: make(chan struct{}),
		st: State{Version: stateVersion, Target: target, APIBase: apiBase, Run: run, PID: os.Getpid(), Started: time.Now().UTC()}}
}

// saveLocked writes the state file atomically (a temporary file renamed
// over it); r.mu held.
func (r *recorder) saveLocked() error {
	if err := writeState(r.path, &r.st); err != nil {
		return err
	}
	r.saved = true
	return nil
}

func writeState(path string, st *State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("harness: restore: encoding the state: %v", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("harness: restore: state directory %s (%s): %v; set %s to a writable directory", dir, EnvStateDir, err, EnvStateDir)
	}
	f, err := os.CreateTemp(dir, ".cxload-state-*")
	if err != nil {
		return fmt.Errorf("harness: restore: state directory %s (%s): %v; set %s to a writable directory", dir, EnvStateDir, err, EnvStateDir)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("harness: restore: writing the state file %s: %v", path, err)
	}
	return nil
}

func (r *recorder) lock(key string) *sync.Mutex {
	m, _ := r.snap.LoadOrStore(key, new(sync.Mutex))
	return m.(*sync.Mutex)
}

// userOf returns the {id} of /api/v2/users/{id}/...
func userOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) >= 4 && segs[2] == "users" {
		if id, err := url.PathUnescape(segs[3]); err == nil {
			return id
		}
	}
	return ""
}

// BeforeWrite records, before the run's first change of a user's presence
// (a routing status change counts: presence sets it back) or of a queue
// membership, what it is now. If it cannot, the change is not sent.
func (r *recorder) BeforeWrite(ctx context.Context, c *api.Client, method, path string, body []byte) error {
	r.mu.Lock()
	done := r.restored
	r.mu.Unlock()
	if done {
		return fmt.Errorf("harness: restore: %s %s after the run was restored: it is not sent", method, path)
	}
	switch familyOfPath(path) {
	case genesys.FamilyPresence, genesys.FamilyRoutingStatus:
		if u := userOf(path); u != "" {
			return r.snapPresence(ctx, c, u)
		}
	case genesys.FamilyUserQueues:
		if u := userOf(path); u != "" {
			var qs []struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &qs) // a body that does not parse is refused by the API: nothing to record
			ids := make([]string, 0, len(qs))
			for _, q := range qs {
				if q.ID != "" {
					ids = append(ids, q.ID)
				}
			}
			return r.snapQueues(ctx, c, u, ids)
		}
	}
	return nil
}

// AfterWrite notes the conversation id of a call placed.
func (r *recorder) AfterWrite(method, path string, status int, body []byte) {
	if method != http.MethodPost || strings.TrimRight(path, "/") != "/api/v2/conversations/calls" || status/100 != 2 {
		return
	}
	var out struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &out) != nil || out.ID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Calls = append(r.st.Calls, out.ID)
	if err := r.saveLocked(); err != nil {
		r.logf("cxload restore: call %s placed but not recorded: %v", out.ID, err)
	}
}

func (r *recorder) snapPresence(ctx context.Context, c *api.Client, user string) error {
	m := r.lock("presence/" + user)
	m.Lock()
	defer m.Unlock()
	r.mu.Lock()
	_, ok := r.st.Presence[user]
	r.mu.Unlock()
	if ok {
		return nil
	}
	var out struct {
		PresenceDefinition struct {
			ID string `json:"id"`
		} `json:"presenceDefinition"`
	}
	req := &api.Request{Op: "restore.presence.get", Method: http.MethodGet, Route: "/api/v2/users/{id}/presences/{source}", Params: []string{user, "purecloud"}}
	if _, err := c.DoJSON(ctx, req, nil, &out); err != nil {
		return fmt.Errorf("harness: restore: reading user %s's presence before changing it: %w; the change is not sent", user, err)
	}
	if out.PresenceDefinition.ID == "" {
		return fmt.Errorf("harness: restore: user %s's presence came without presenceDefinition.id; the change is not sent", user)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Presence == nil {
		r.st.Presence = map[string]string{}
	}
	r.st.Presence[user] = out.PresenceDefinition.ID
	if err := r.saveLocked(); err != nil {
		delete(r.st.Presence, user)
		return fmt.Errorf("%w; the change is not sent", err)
	}
	return nil
}

func (r *recorder) snapQueues(ctx context.Context, c *api.Client, user string, ids []string) error {
	m := r.lock("queues/" + user)
	m.Lock()
	defer m.Unlock()
	r.mu.Lock()
	var missing []string
	for _, id := range ids {
		if _, ok := r.st.Queues[user][id]; !ok {
			missing = append(missing, id)
		}
	}
	r.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	joined := map[string]bool{}
	for page := 1; ; page++ {
		var body struct {
			Entities []struct {
				ID     string `json:"id"`
				Joined bool   `json:"joined"`
			} `json:"entities"`
			PageCount int `json:"pageCount"`
		}
		req := &api.Request{Op: "restore.queues.get", Method: http.MethodGet, Route: "/api/v2/users/{id}/queues", Params: []string{user},
			Query: url.Values{"pageSize": {"100"}, "pageNumber": {strconv.Itoa(page)}}}
		if _, err := c.DoJSON(ctx, req, nil, &body); err != nil {
			return fmt.Errorf("harness: restore: reading user %s's queues before changing them: %w; the change is not sent", user, err)
		}
		for _, q := range body.Entities {
			joined[q.ID] = q.Joined
		}
		if len(body.Entities) == 0 || page >= body.PageCount {
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Queues == nil {
		r.st.Queues = map[string]map[string]bool{}
	}
	if r.st.Queues[user] == nil {
		r.st.Queues[user] = map[string]bool{}
	}
	for _, id := range missing {
		r.st.Queues[user][id] = joined[id] // not a member: not joined
	}
	if err := r.saveLocked(); err != nil {
		for _, id := range missing {
			delete(r.st.Queues[user], id)
		}
		return fmt.Errorf("%w; the change is not sent", err)
	}
	return nil
}

// restore puts back what r recorded with c, refuses the run's later
// writes, and removes the state file, or keeps in it what failed.
func (r *recorder) restore(ctx context.Context, c *api.Client) (Restored, error) {
	r.mu.Lock()
	r.restored = true
	st := r.st
	saved := r.saved
	r.mu.Unlock()
	got, left := restoreState(ctx, c, st)
	if !saved {
		return got, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = left
	if left.changes() == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return got, fmt.Errorf("harness: restore: removing the state file: %v", err)
		}
		return got, nil
	}
	return got, r.saveLocked()
}

// restoreWorkers is how many restore requests are in flight at once: a
// few hundred users are put back within CleanupTimeout.
const restoreWorkers = 8

// restoreState hangs up st's calls, then sets queue memberships and
// presence back, and returns what it did and what is left to do.
func restoreState(ctx context.Context, c *api.Client, st State) (Restored, State) {
	left := st
	left.Presence, left.Queues, left.Calls = nil, nil, nil
	var mu sync.Mutex
	var got Restored
	fail := func(err error) {
		mu.Lock()
		got.Failed = append(got.Failed, err)
		mu.Unlock()
	}
	run := func(jobs []func()) {
		ch := make(chan func())
		var wg sync.WaitGroup
		for range min(restoreWorkers, len(jobs)) {
			wg.Go(func() {
				for j := range ch {
					j()
				}
			})
		}
		for _, j := range jobs {
			ch <- j
		}
		close(ch)
		wg.Wait()
	}
	var jobs []func()
	for _, conv := range st.Calls {
		jobs = append(jobs, func() {
			_, err := c.DoJSON(ctx, &api.Request{Op: "restore.call.disconnect", Method: http.MethodPatch, Route: "/api/v2/conversations/calls/{id}", Params: []string{conv}},
				map[string]string{"state": "disconnected"}, nil)
			var se *api.StatusError
			if err != nil && !(errors.As(err, &se) && se.Response.Status == http.StatusNotFound) { // 404: ended and gone
				fail(fmt.Errorf("hanging up call %s: %w", conv, err))
				mu.Lock()
				left.Calls = append(left.Calls, conv)
				mu.Unlock()
				return
			}
			mu.Lock()
			got.Calls++
			mu.Unlock()
		})
	}
	run(jobs)
	jobs = jobs[:0]
	for _, user := range sortedKeys(st.Queues) {
		qs := st.Queues[user]
		jobs = append(jobs, func() {
			type member struct {
				ID     string `json:"id"`
				Joined bool   `json:"joined"`
			}
			var body []member
			for _, id := range sortedKeys(qs) {
				body = append(body, member{id, qs[id]})
			}
			_, err := c.DoJSON(ctx, &api.Request{Op: "restore.queues.set", Method: http.MethodPatch, Route: "/api/v2/users/{id}/queues", Params: []string{user}}, body, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				got.Failed = append(got.Failed, fmt.Errorf("setting user %s's queue memberships back: %w", user, err))
				if left.Queues == nil {
					left.Queues = map[string]map[string]bool{}
				}
				left.Queues[user] = qs
				return
			}
			got.Queues += len(qs)
		})
	}
	for _, user := range sortedKeys(st.Presence) {
		id := st.Presence[user]
		jobs = append(jobs, func() {
			_, err := c.DoJSON(ctx, &api.Request{Op: "restore.presence.set", Method: http.MethodPatch, Route: "/api/v2/users/{id}/presences/{source}", Params: []string{user, "purecloud"}},
				map[string]any{"presenceDefinition": map[string]string{"id": id}}, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				got.Failed = append(got.Failed, fmt.Errorf("setting user %s's presence back to %s: %w", user, id, err))
				if left.Presence == nil {
					left.Presence = map[string]string{}
				}
				left.Presence[user] = id
				return
			}
			got.Presence++
		})
	}
	run(jobs)
	return got, left
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// changeGate is the Gate of a recording target's clients: the guard (or
// nothing, on a simulator) and the recorder.
type changeGate struct {
	inner api.Gate // nil: every attempt admitted
	*recorder
}

func (g changeGate) Admit() error {
	if g.inner == nil {
		return nil
	}
	return g.inner.Admit()
}

func (g changeGate) Done(status int) {
	if g.inner != nil {
		g.inner.Done(status)
	}
}

func (g changeGate) AdmitRequest(method, route string, body []byte) error {
	if rg, ok := g.inner.(api.RequestGate); ok {
		return rg.AdmitRequest(method, route, body)
	}
	return nil
}

// cleanupClient returns an API client for a restore of changes changes to
// cfg's target over tr: its own token pool, and every attempt, token
// requests included, admitted by the cleanup reserve, not a guard.
func cleanupClient(cfg Config, changes int, tr *http.Transport) (*api.Client, error) {
	gate := newCleanupGate(changes)
	hc := &http.Client{Transport: gatedTransport{base: tr, gate: gate}, Timeout: CleanupTimeout}
	login := cfg.LoginBase
	if login == "" {
		login = cfg.APIBase
	}
	pool, err := auth.NewPool(auth.Config{TokenURL: login + "/oauth/token", Clients: cfg.Clients, HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("harness: restore: %w", err)
	}
	c, err := api.New(api.Config{BaseURL: cfg.APIBase, Tokens: pool, Scrub: pool.Scrub, HTTPClient: &http.Client{Transport: tr},
		Limits: api.ObserveLimits(genesys.Family, api.DefaultBuckets()...), Gate: gate})
	if err != nil {
		return nil, fmt.Errorf("harness: restore: %w", err)
	}
	return c, nil
}

// RestoreState puts back what the state files in dir (default
// DefaultStateDir) recorded for cfg's target: calls hung up, queue
// memberships and presence set back, with the cleanup reserve (not the
// run's guard: the window and budget do not apply). A file whose changes
// were all put back is removed; one with failures keeps them. logf gets a
// line per file. Files of other targets are left alone.
func RestoreState(ctx context.Context, cfg Config, dir string, logf func(format string, args ...any)) (Restored, error) {
	if dir == "" {
		dir = DefaultStateDir()
	}
	if cfg.Kind == KindExternal && len(cfg.Clients) == 0 {
		p := gcsim.DefaultProfile()
		if cfg.Profile != "" {
			var err error
			if p, err = gcsim.LoadProfile(cfg.Profile); err != nil {
				return Restored{}, fmt.Errorf("harness: restore: %s=%q: %v", EnvProfile, cfg.Profile, err)
			}
		}
		for _, c := range p.Clients {
			cfg.Clients = append(cfg.Clients, auth.Credentials{ClientID: c.ID, Secret: string(c.Secret)})
		}
	}
	if cfg.APIBase == "" {
		return Restored{}, errors.New("harness: restore: the configuration names no API to restore on: set GENESYSCLOUD_* for a tenant or " + EnvSimURL + " for a simulator")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "cxload-*.json"))
	if err != nil {
		return Restored{}, fmt.Errorf("harness: restore: %s=%s: %v", EnvStateDir, dir, err)
	}
	var all Restored
	var errs []error
	for _, path := range paths {
		data, err := safefile.Read(path, MaxStateFileSize)
		if err != nil {
			errs = append(errs, fmt.Errorf("harness: restore: %s: %v", path, err))
			continue
		}
		var st State
		if err := json.Unmarshal(data, &st); err != nil || st.Version != stateVersion {
			errs = append(errs, fmt.Errorf("harness: restore: %s: not a cxload state file of version %d (%v): move it out of %s", path, stateVersion, err, dir))
			continue
		}
		if st.APIBase != cfg.APIBase {
			logf("cxload restore: %s: skipped, it is for %s (%s), the configuration is for %s", path, st.APIBase, st.Target, cfg.APIBase)
			continue
		}
		logf("cxload restore: %s (%s, pid %d, started %s): %d users' presence, %d queue memberships, %d calls to hang up",
			path, st.Run, st.PID, st.Started.Format(time.RFC3339), len(st.Presence), st.changes()-len(st.Presence)-len(st.Calls), len(st.Calls))
		got, err := restoreFile(ctx, cfg, path, st)
		for _, f := range got.Failed {
			logf("cxload restore: %s: %v", path, f)
		}
		switch {
		case err != nil:
			errs = append(errs, err)
		case len(got.Failed) == 0:
			logf("cxload restore: %s: restored, removed", path)
		default:
			logf("cxload restore: %s: kept with the %d change(s) that failed", path, len(got.Failed))
		}
		all.add(got)
	}
	return all, errors.Join(errs...)
}

// restoreFile restores one state file's changes.
func restoreFile(ctx context.Context, cfg Config, path string, st State) (Restored, error) {
	tr := api.NewTransport(restoreWorkers)
	if cfg.Kind != KindTenant {
		tr.Proxy = nil // a simulator on this machine
	}
	defer tr.CloseIdleConnections()
	c, err := cleanupClient(cfg, st.changes(), tr)
	if err != nil {
		return Restored{}, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, CleanupTimeout)
	defer cancel()
	got, left := restoreState(ctx, c, st)
	if left.changes() > 0 {
		return got, writeState(path, &left)
	}
	if err := os.Remove(path); err != nil {
		return got, fmt.Errorf("harness: restore: removing %s: %v", path, err)
	}
	return got, nil
}

// exit ends the process after a signal's restore (a test replaces it to
// look at the target before the process ends).
var exit = os.Exit

// signalGrace is how long, after SIGINT or SIGTERM, the run has to end and
// Close before the restore starts without it (a variable for a test's helper
// process).
var signalGrace = 5 * time.Second

// startRecording makes tg record what it changes, to restore it at Close:
// always on a tenant (unless read-only), on a simulator when
// CXLOAD_STATE_DIR is set. A recording tenant run catches SIGINT and
// SIGTERM once: the run ends, is restored, and the process exits.
func (tg *Target) startRecording(o options) error {
	dir := strings.TrimSpace(o.getenv(EnvStateDir))
	if o.readOnly || (tg.Kind() != KindTenant && dir == "") {
		return nil
	}
	if dir == "" {
		dir = DefaultStateDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cxload target: %s=%s: %v; set %s to a writable directory for the state of what the run changes", EnvStateDir, dir, err, EnvStateDir)
	}
	target := "simulator"
	if tg.Kind() == KindTenant {
		target = "tenant " + tg.Config.Region.Name
	}
	tg.rec = newRecorder(dir, target, tg.Config.APIBase, tg.name, tg.logf)
	if tg.Kind() == KindTenant {
		tg.catchSignals()
	}
	return nil
}

// catchSignals ends the run on the first SIGINT or SIGTERM, restores it
// (at Close, or itself if Close has not come within signalGrace) and exits
// with status 1. A second signal kills as usual.
func (tg *Target) catchSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	tg.onClose(func() { signal.Stop(ch); close(done) })
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			tg.logf("cxload: %v: ending the run and restoring what it changed (a second %v kills at once)", sig, sig)
			tg.cancel(fmt.Errorf("cxload: interrupted by %v", sig))
			t := time.NewTimer(signalGrace)
			select {
			case <-tg.rec.closed:
			case <-t.C:
				_ = tg.restore()
			}
			exit(1)
		case <-done:
		}
	}()
}

// restore puts back what tg changed (once), with the cleanup reserve, and
// logs one line saying what it did.
func (tg *Target) restore() error {
	if tg.rec == nil {
		if tg.Kind() == KindTenant && !tg.refused {
			tg.logf("cxload restore: a read-only scenario: nothing recorded, nothing to restore")
		}
		return nil
	}
	tg.rec.once.Do(func() { tg.rec.err = tg.restoreNow() })
	return tg.rec.err
}

func (tg *Target) restoreNow() error {
	r := tg.rec
	r.mu.Lock()
	n := r.st.changes()
	r.mu.Unlock()
	if n == 0 {
		r.mu.Lock()
		r.restored = true
		r.mu.Unlock()
		if tg.Kind() == KindTenant && !tg.refused {
			tg.logf("cxload restore: the run changed nothing to restore")
		}
		return nil
	}
	tr := tg.transport(restoreWorkers) // as the run's: dial, proxy and TLS
	defer tr.CloseIdleConnections()
	c, err := cleanupClient(tg.Config, n, tr)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), CleanupTimeout)
	defer cancel()
	got, err := r.restore(ctx, c)
	switch {
	case err != nil:
		tg.logf("cxload restore: %v; %v", got, err)
	case len(got.Failed) > 0:
		err = fmt.Errorf("cxload restore: %v; state file kept: %s: run go run ./scripts/restore -state %s", got, r.path, filepath.Dir(r.path))
		tg.logf("%v", err)
	default:
		tg.logf("cxload restore: %v; state file removed", got)
	}
	return err
}
