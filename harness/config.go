// Package harness gives a load scenario its target: the embedded Genesys
// Cloud simulator (gcsim) when no credentials are configured, a gcsim
// process on this machine (CXLOAD_SIM_URL), or a real tenant behind a
// production guard when credentials are set. [Open] is the one place a run
// is assembled: it reads the environment, prints its choice in one line,
// and hands out token pools ([Target.Pool]), API clients ([Target.Client])
// and recorders ([Target.NewRecorder]) wired to the target's known rate
// limits; [NewTarget] is Open for a test.
//
// Configuration is by environment variables only, GENESYSCLOUD_* (the
// ecosystem's, as used by Genesys' Terraform provider and CLI) and CXLOAD_*
// (ours); [ResolveTarget] turns them into a [Config] and is a pure function.
package harness

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "time/tzdata" // region time zones must resolve on machines without zoneinfo

	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/internal/safefile"
)

// The environment variables the harness reads. README "Configuration" lists
// them with examples.
const (
	EnvRegion       = "GENESYSCLOUD_REGION"             // region name or domain: real tenant
	EnvClientID     = "GENESYSCLOUD_OAUTHCLIENT_ID"     // first OAuth client
	EnvClientSecret = "GENESYSCLOUD_OAUTHCLIENT_SECRET" // its secret
	// More OAuth clients: GENESYSCLOUD_OAUTHCLIENT_ID_2 / _SECRET_2 up to _9.
	EnvClientsFile = "CXLOAD_CLIENTS_FILE" // JSON file: [{"clientId":"...","clientSecret":"..."}]
	EnvTarget      = "CXLOAD_TARGET"       // "simulator" forces the simulator; "tenant" requires one
	EnvProfile     = "CXLOAD_PROFILE"      // gcsim profile (JSON file) for the embedded simulator
	EnvSimURL      = "CXLOAD_SIM_URL"      // an external simulator (go run ./scripts/gcsim) on this machine
	EnvTimeScale   = "CXLOAD_TIME_SCALE"   // simulator only: divide rate-limit windows by this factor
	EnvLabels      = "CXLOAD_LABELS"       // labels of the result documents, k=v,k=v
	EnvRunID       = "CXLOAD_RUN_ID"       // the run's id in the result documents; shards of one run share it

	EnvApproval           = "CXLOAD_APPROVAL"             // Genesys approval / ticket reference (tenant: required)
	EnvAllowOutsideWindow = "CXLOAD_ALLOW_OUTSIDE_WINDOW" // 1: run outside 23:00–05:00 region time
	EnvRequestBudget      = "CXLOAD_REQUEST_BUDGET"       // max requests (attempts) of a run (tenant: required)
	EnvAbort429Rate       = "CXLOAD_ABORT_429_RATE"       // abort when the 429 share stays above this
	EnvAbort5xxRate       = "CXLOAD_ABORT_5XX_RATE"       // abort when the 5xx share stays above this
	EnvAbortAfter         = "CXLOAD_ABORT_AFTER"          // ... for this long
	EnvTimezone           = "CXLOAD_TIMEZONE"             // IANA zone overriding the region's
	EnvShard              = shard.Env                     // i/n: this machine's shard; splits the request budget
	EnvShards             = shard.CountEnv                // n of a Kubernetes Indexed Job, whose pod is JOB_COMPLETION_INDEX+1
)

// Defaults of the guard's abort rules.
const (
	DefaultAbort429Rate = 0.05             // 5 % of attempts answered 429
	DefaultAbort5xxRate = 0.02             // 2 % of attempts answered 5xx
	DefaultAbortAfter   = 30 * time.Second // sustained this long
	// WindowStart and WindowEnd bound Genesys' load-test window, in the
	// region's local time: 23:00 to 05:00.
	WindowStart = 23
	WindowEnd   = 5
)

// maxClients bounds the numbered GENESYSCLOUD_OAUTHCLIENT_ID_n variables.
const maxClients = 9

// The bounds of a run. A knob over one (CXLOAD_AGENTS, CXLOAD_RATE, any
// duration, CXLOAD_REQUEST_BUDGET; CXLOAD_SHARD's is shard.Max) is refused
// before anything is allocated or sent: a slip such as 1e9 must fail at
// once instead of exhausting the machine or the organization. Each is far above a real run;
// a run that truly needs more raises the constant here.
const (
	// MaxAgents bounds the agents of a run (all shards): ten times the
	// 10,000 agents the simulator is built to run, and above the agents of
	// any one Genesys Cloud organization a load test targets. Each agent
	// costs memory (its user, session, notification channel) before the
	// first request.
	MaxAgents = 100_000
	// MaxRate bounds a requested rate, in requests per second over all
	// shards: far beyond an organization's API allocation (Genesys limits
	// are hundreds of requests per minute per token or client), so only a
	// slip reaches it.
	MaxRate = 1_000_000
	// MaxDuration bounds every duration (a load phase, a ramp, a think
	// time, a threshold, CXLOAD_ABORT_AFTER): the load-test window lasts six
	// hours; 24 h leaves room for an approved soak run outside it.
	MaxDuration = 24 * time.Hour
	// MaxRequestBudget bounds CXLOAD_REQUEST_BUDGET: what a run at MaxRate
	// for MaxDuration could make (8.64×10¹⁰), which keeps the guard's counts
	// far from int64's range.
	MaxRequestBudget = MaxRate * int64(MaxDuration/time.Second)
	// MaxTimeScale bounds CXLOAD_TIME_SCALE and WithTimeScale: a one-minute
	// window becomes 60 ms, still well above the millisecond to which
	// windows are rounded.
	MaxTimeScale = 1000
	// MaxClientsFileSize bounds CXLOAD_CLIENTS_FILE: a client is under
	// 200 bytes of JSON, so 1 MiB holds thousands, far more than any
	// organization configures.
	MaxClientsFileSize = 1 << 20
)

// Target kinds.
const (
	KindSimulator = "simulator" // the embedded simulator, started by Open
	KindExternal  = "external"  // a gcsim process on this machine (CXLOAD_SIM_URL)
	KindTenant    = "tenant"    // a real tenant behind the guard
)

// Config is a resolved target configuration. String and GoString redact
// the client secrets.
type Config struct {
	Kind      string         // KindSimulator, KindExternal or KindTenant
	Region    genesys.Region // tenant only
	APIBase   string         // tenant: "https://api.<domain>"; external: SimURL; simulator: set when started
	LoginBase string         // tenant: "https://login.<domain>"
	Clients   []auth.Credentials
	// Profile is CXLOAD_PROFILE: the embedded simulator's profile, or the
	// one an external simulator was started with (simulators only).
	Profile string
	// SimURL is CXLOAD_SIM_URL, the external simulator (loopback only).
	SimURL string
	// TimeScale is CXLOAD_TIME_SCALE: the embedded simulator's rate-limit
	// windows are divided by it; 0 = unset (see WithTimeScale).
	TimeScale float64
	// Shard is this machine's part of the run (CXLOAD_SHARD; zero: whole).
	Shard shard.Shard
	// Labels are CXLOAD_LABELS, the result documents' labels, without
	// "shard" (the shard is the document's own field, so shards merge).
	Labels map[string]string
	// RunID is CXLOAD_RUN_ID (else GitHub's GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT):
	// the result documents' run, which the shards of one run share.
	RunID string
	// Knobs are the load scenarios' knobs (CXLOAD_AGENTS, CXLOAD_RATE, ...).
	Knobs Knobs
	// UserTokens are CXLOAD_USER_TOKENS' users and their tokens: with them,
	// a per-agent pool (Target.Pool) becomes a per-user one (auth.PerUser).
	UserTokens []auth.UserToken
	// SAMLAssertions is CXLOAD_SAML_ASSERTIONS (tenant only): the directory
	// of the UserTokens users' SAML assertions, for the SAML2 bearer grant.
	SAMLAssertions string
	Guard          GuardConfig
	// Why is one line saying which variables decided the target.
	Why string
}

// GuardConfig is the production guard's configuration (tenant only).
type GuardConfig struct {
	Approval           string
	AllowOutsideWindow bool
	Budget             int64 // this shard's requests (attempts); 0 = none set
	// BudgetTotal is CXLOAD_REQUEST_BUDGET as set: the budget of the whole
	// run. With CXLOAD_SHARD=i/n each shard takes its part
	// (shard.Shard.Split64), so n machines together never exceed it.
	BudgetTotal  int64
	Shard        string // CXLOAD_SHARD as read ("" = unsharded)
	Abort429Rate float64
	Abort5xxRate float64
	AbortAfter   time.Duration
	Location     *time.Location // the region's time zone (or CXLOAD_TIMEZONE)
	// Fixtures are what the run may touch: the test users and queues, the
	// call targets, the write kinds allowed and the storm opt-in.
	Fixtures Fixtures
}

// String describes the configuration without secrets.
func (c Config) String() string {
	ids := make([]string, len(c.Clients))
	for i, cl := range c.Clients {
		ids[i] = cl.ClientID
	}
	switch c.Kind {
	case KindSimulator:
		return fmt.Sprintf("harness.Config{Kind: simulator, Profile: %q, Clients: [%s]}", c.Profile, strings.Join(ids, " "))
	case KindExternal:
		return fmt.Sprintf("harness.Config{Kind: external, SimURL: %s, Profile: %q, Clients: [%s]}", c.SimURL, c.Profile, strings.Join(ids, " "))
	}
	return fmt.Sprintf("harness.Config{Kind: tenant, Region: %s, API: %s, Clients: [%s], Secrets: %s, Approval: %q, Budget: %d}",
		c.Region.Name, c.APIBase, strings.Join(ids, " "), auth.Redacted, c.Guard.Approval, c.Guard.Budget)
}

// GoString is String, so %#v shows no secret either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer with String, so that slog's JSON
// handler does not marshal the credentials.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ResolveTarget decides the target from the environment (getenv is usually
// os.Getenv). It is a pure function of getenv and of the file that
// CXLOAD_CLIENTS_FILE names. With no GENESYSCLOUD_* variable set it returns
// the simulator; with all of them set, the tenant, whose guard settings must
// be complete. Every problem is reported, each naming the variable, the value
// (never a secret) and the fix.
func ResolveTarget(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("harness: "+format, args...)) }

	region := strings.TrimSpace(getenv(EnvRegion))
	id := strings.TrimSpace(getenv(EnvClientID))
	secret := getenv(EnvClientSecret)
	file := strings.TrimSpace(getenv(EnvClientsFile))
	force := strings.ToLower(strings.TrimSpace(getenv(EnvTarget)))
	anyTenant := region != "" || id != "" || secret != "" || file != ""
	for n := 2; n <= maxClients; n++ {
		anyTenant = anyTenant || getenv(fmt.Sprintf("%s_%d", EnvClientID, n)) != "" || getenv(fmt.Sprintf("%s_%d", EnvClientSecret, n)) != ""
	}

	switch force {
	case "", "auto", KindSimulator, KindTenant:
	default:
		bad("%s=%q: want simulator, tenant or auto", EnvTarget, force)
	}
	common, cerrs := resolveRun(getenv)
	errs = append(errs, cerrs...)

	if force == KindSimulator || (!anyTenant && force != KindTenant) {
		cfg := common
		cfg.Kind, cfg.Profile = KindSimulator, strings.TrimSpace(getenv(EnvProfile))
		cfg.Clients = []auth.Credentials{{ClientID: "sim-client", Secret: "sim-secret"}, {ClientID: "sim-client-2", Secret: "sim-secret-2"}}
		cfg.Why = "no " + EnvRegion + " set"
		if force == KindSimulator {
			cfg.Why = EnvTarget + "=simulator"
		}
		if cfg.SimURL != "" {
			cfg.Kind, cfg.APIBase, cfg.LoginBase = KindExternal, cfg.SimURL, cfg.SimURL
			cfg.Why += ", " + EnvSimURL + "=" + cfg.SimURL
		}
		if cfg.Profile != "" {
			if err := safefile.Check(cfg.Profile, gcsim.MaxProfileSize); err != nil {
				bad("%s=%q: %v; point it at a gcsim profile JSON file (at most %s) or unset it", EnvProfile, cfg.Profile, errors.Unwrap(err), safefile.Size(gcsim.MaxProfileSize))
			}
		}
		for _, v := range []string{EnvApproval, EnvRequestBudget, EnvAllowOutsideWindow, EnvTimezone, EnvUsers, EnvQueues, EnvCallTargets, EnvAllowWrites, EnvAllowStorm, EnvSAMLAssertions} {
			if getenv(v) != "" {
				bad("%s is set but the target is the simulator (%s): set %s, %s and %s for a tenant, or unset %s",
					v, cfg.Why, EnvRegion, EnvClientID, EnvClientSecret, v)
			}
		}
		return cfg, errors.Join(errs...)
	}

	// Tenant.
	cfg := common
	cfg.Kind = KindTenant
	for _, v := range []string{EnvProfile, EnvSimURL, EnvTimeScale} {
		if getenv(v) != "" {
			bad("%s is set but the target is a tenant: it configures the simulator; unset it", v)
		}
	}
	cfg.SimURL, cfg.TimeScale = "", 0
	switch {
	case region == "":
		// Say what made the target a tenant, and what to unset to leave it.
		why, unset := "", "the other GENESYSCLOUD_* variables"
		if force == KindTenant {
			why, unset = " ("+EnvTarget+"=tenant)", EnvTarget
			if anyTenant {
				unset += " and the other GENESYSCLOUD_* variables"
			}
		}
		bad("%s is not set%s: set it to a region name (e.g. eu-west-1) or domain (e.g. mypurecloud.ie), or unset %s to use the simulator", EnvRegion, why, unset)
	default:
		r, ok := genesys.LookupRegion(region)
		if !ok {
			bad("%s=%q: unknown region; use one of %s, or its domain (e.g. mypurecloud.ie)", EnvRegion, region, regionNames())
		}
		cfg.Region = r
		cfg.APIBase = r.APIBase()
		cfg.LoginBase = r.LoginBase()
	}
	cfg.Why = EnvRegion + "=" + region

	// Clients: the first from GENESYSCLOUD_OAUTHCLIENT_*, more numbered, or a file.
	clients, cerrs := envClients(getenv, id, secret, file != "")
	errs = append(errs, cerrs...)
	if file != "" {
		fc, err := readClientsFile(file)
		if err != nil {
			errs = append(errs, err)
		}
		clients = append(clients, fc...)
	}
	seen := map[string]bool{}
	for _, c := range clients {
		if seen[c.ClientID] {
			bad("OAuth client %q is configured twice (%s, numbered variables, %s): remove one", c.ClientID, EnvClientID, EnvClientsFile)
		}
		seen[c.ClientID] = true
	}
	cfg.Clients = clients

	g, gerrs := resolveGuard(getenv, cfg.Region, cfg.Shard)
	errs = append(errs, gerrs...)
	var ferrs []error
	g.Fixtures, ferrs = resolveFixtures(getenv)
	errs = append(errs, ferrs...)
	cfg.Guard = g
	var serrs []error
	cfg.SAMLAssertions, cfg.UserTokens, serrs = resolveSAML(getenv, g.Fixtures, cfg.UserTokens)
	errs = append(errs, serrs...)
	return cfg, errors.Join(errs...)
}

// resolveRun reads what every kind of target shares: the external
// simulator, the window time scale, the shard and the labels.
func resolveRun(getenv func(string) string) (Config, []error) {
	var cfg Config
	var errs []error
	if v := strings.TrimSpace(getenv(EnvSimURL)); v != "" {
		if err := checkSimURL(v); err != nil {
			errs = append(errs, fmt.Errorf("harness: %s=%q: %v", EnvSimURL, v, err))
		}
		cfg.SimURL = strings.TrimRight(v, "/")
	}
	if v := strings.TrimSpace(getenv(EnvTimeScale)); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		switch {
		case (err == nil || errors.Is(err, strconv.ErrRange)) && f > MaxTimeScale:
			errs = append(errs, fmt.Errorf("harness: %s=%q: over the bound of %d (harness.MaxTimeScale); a larger factor shrinks rate-limit windows below what the simulator keeps apart", EnvTimeScale, v, MaxTimeScale))
		case err != nil || f != f || f < 1:
			errs = append(errs, fmt.Errorf("harness: %s=%q: want a number from 1 to %d", EnvTimeScale, v, MaxTimeScale))
		default:
			cfg.TimeScale = f
		}
	}
	sh, err := shard.FromEnv(getenv)
	if err != nil {
		errs = append(errs, fmt.Errorf("harness: %v", err))
	}
	cfg.Shard = sh
	var kerrs []error
	cfg.Knobs, kerrs = parseKnobs(getenv)
	errs = append(errs, kerrs...)
	ut, err := ResolveUserTokens(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.UserTokens = ut
	if v := getenv(EnvLabels); v != "" {
		l, err := result.ParseLabels(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("harness: %s=%q: %v", EnvLabels, v, err))
		}
		delete(l, result.ShardLabel) // the shard is Document.Shard: shards of one cell must merge
		cfg.Labels = l
	}
	cfg.RunID = strings.TrimSpace(getenv(EnvRunID))
	if id := strings.TrimSpace(getenv("GITHUB_RUN_ID")); cfg.RunID == "" && id != "" {
		cfg.RunID = id + "-" + cmp.Or(strings.TrimSpace(getenv("GITHUB_RUN_ATTEMPT")), "1")
	}
	return cfg, errs
}

// checkSimURL accepts only loopback http URLs: the simulator has
// well-known credentials and this is never a real Genesys host.
func checkSimURL(v string) error {
	const want = "want http://127.0.0.1:PORT (the URL gcsim prints)"
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Opaque != "" {
		return errors.New(want)
	}
	if u.User != nil { // "http://localhost:80@example.com/" would dial example.com
		return errors.New("want http://127.0.0.1:PORT without an @ (what precedes an @ is user info, not the host)")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("host %q is not loopback: the external simulator must run on this machine (http://127.0.0.1:PORT)", host)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q: %s", p, want)
		}
	}
	return nil
}

func regionNames() string { return strings.Join(genesys.RegionNames(), ", ") }

func envClients(getenv func(string) string, id, secret string, haveFile bool) ([]auth.Credentials, []error) {
	var out []auth.Credentials
	var errs []error
	switch {
	case id == "" && secret == "" && !haveFile:
		errs = append(errs, fmt.Errorf("harness: %s and %s are not set: set both to an OAuth client (client credentials grant), or list clients in %s",
			EnvClientID, EnvClientSecret, EnvClientsFile))
	case id != "" && secret == "":
		errs = append(errs, fmt.Errorf("harness: %s is set but %s is not: set the client's secret", EnvClientID, EnvClientSecret))
	case id == "" && secret != "":
		errs = append(errs, fmt.Errorf("harness: %s is set but %s is not: set the client id", EnvClientSecret, EnvClientID))
	case id != "":
		out = append(out, auth.Credentials{ClientID: id, Secret: secret})
	}
	gap := 0
	for n := 2; n <= maxClients; n++ {
		idVar, secVar := fmt.Sprintf("%s_%d", EnvClientID, n), fmt.Sprintf("%s_%d", EnvClientSecret, n)
		i, s := strings.TrimSpace(getenv(idVar)), getenv(secVar)
		switch {
		case i == "" && s == "":
			if gap == 0 {
				gap = n
			}
			continue
		case i == "":
			errs = append(errs, fmt.Errorf("harness: %s is set but %s is not: set the client id", secVar, idVar))
		case s == "":
			errs = append(errs, fmt.Errorf("harness: %s is set but %s is not: set the client's secret", idVar, secVar))
		default:
			out = append(out, auth.Credentials{ClientID: i, Secret: s})
		}
		if gap != 0 {
			errs = append(errs, fmt.Errorf("harness: %s is set but %s_%d is not: number extra clients from 2 without gaps", idVar, EnvClientID, gap))
			gap = -1
		}
	}
	return out, errs
}

// clientsFileEntry is one element of CXLOAD_CLIENTS_FILE.
type clientsFileEntry struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

func readClientsFile(path string) ([]auth.Credentials, error) {
	data, err := safefile.Read(path, MaxClientsFileSize)
	if err != nil {
		return nil, fmt.Errorf("harness: %s=%q: cannot read: %v; point it at a regular JSON file of at most %s", EnvClientsFile, path, errors.Unwrap(err), safefile.Size(MaxClientsFileSize))
	}
	var entries []clientsFileEntry
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("harness: %s %s:%d: invalid JSON: %v; want [{\"clientId\": \"...\", \"clientSecret\": \"...\"}]", EnvClientsFile, path, lineOf(data, se.Offset), se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("harness: %s %s:%d: %s: want %v, got JSON %s; want [{\"clientId\": \"...\", \"clientSecret\": \"...\"}]", EnvClientsFile, path, lineOf(data, te.Offset), jsonPath(te.Field), te.Type, te.Value)
		}
		return nil, fmt.Errorf("harness: %s %s: %v; want [{\"clientId\": \"...\", \"clientSecret\": \"...\"}]", EnvClientsFile, path, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("harness: %s %s: no clients; want [{\"clientId\": \"...\", \"clientSecret\": \"...\"}]", EnvClientsFile, path)
	}
	var out []auth.Credentials
	var errs []error
	for i, e := range entries {
		switch {
		case strings.TrimSpace(e.ClientID) == "":
			errs = append(errs, fmt.Errorf("harness: %s %s: [%d].clientId: missing", EnvClientsFile, path, i))
		case e.ClientSecret == "":
			errs = append(errs, fmt.Errorf("harness: %s %s: [%d].clientSecret: missing (client %q)", EnvClientsFile, path, i, e.ClientID))
		default:
			out = append(out, auth.Credentials{ClientID: strings.TrimSpace(e.ClientID), Secret: e.ClientSecret})
		}
	}
	return out, errors.Join(errs...)
}

func jsonPath(field string) string {
	if field == "" {
		return "(top level)"
	}
	return field
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return strings.Count(string(data[:off]), "\n") + 1
}

func resolveGuard(getenv func(string) string, region genesys.Region, sh shard.Shard) (GuardConfig, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("harness: "+format, args...)) }
	g := GuardConfig{Abort429Rate: DefaultAbort429Rate, Abort5xxRate: DefaultAbort5xxRate, AbortAfter: DefaultAbortAfter}

	g.Approval = strings.TrimSpace(getenv(EnvApproval))
	if g.Approval == "" {
		bad("%s is not set: a load test of a Genesys Cloud tenant needs Genesys' prior approval; set it to the approval's support ticket reference (e.g. %s=CS-123456)", EnvApproval, EnvApproval)
	}
	if on, ok := envSwitch(getenv, EnvAllowOutsideWindow); ok {
		g.AllowOutsideWindow = on
	} else {
		bad("%s=%q: want 1 (allow) or 0", EnvAllowOutsideWindow, getenv(EnvAllowOutsideWindow))
	}
	if v := strings.TrimSpace(getenv(EnvRequestBudget)); v == "" {
		bad("%s is not set: set the most requests this run may make (e.g. %s=20000); they count against the organization's API allocation", EnvRequestBudget, EnvRequestBudget)
	} else if n, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64); err != nil && (!errors.Is(err, strconv.ErrRange) || n < 0) || err == nil && n <= 0 {
		bad("%s=%q: want a positive whole number of requests, e.g. 20000", EnvRequestBudget, v)
	} else if err != nil || n > MaxRequestBudget {
		bad("%s=%q: over the bound of %d requests (harness.MaxRequestBudget, MaxRate for MaxDuration); set the most requests this run may really make", EnvRequestBudget, v, int64(MaxRequestBudget))
	} else {
		g.BudgetTotal = n
		g.Budget = n
		if !sh.Whole() { // however the shard was named (CXLOAD_SHARD or the shard package's other sources)
			g.Shard = sh.String()
			g.Budget = int64(sh.Split64(uint64(n)))
			if g.Budget == 0 {
				bad("%s=%d split over %d shards leaves shard %s no request: raise the budget or run fewer shards", EnvRequestBudget, n, sh.Count, g.Shard)
			}
		}
	}
	for _, r := range []struct {
		name string
		dst  *float64
	}{{EnvAbort429Rate, &g.Abort429Rate}, {EnvAbort5xxRate, &g.Abort5xxRate}} {
		v := strings.TrimSpace(getenv(r.name))
		if v == "" {
			continue
		}
		f, err := parseRate(v)
		if err != nil {
			bad("%s=%q: %v", r.name, v, err)
			continue
		}
		*r.dst = f
	}
	if v := strings.TrimSpace(getenv(EnvAbortAfter)); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil || d <= 0:
			bad("%s=%q: want a positive Go duration of at most %v (harness.MaxDuration), such as 30s or 2m", EnvAbortAfter, v, MaxDuration)
		case d > MaxDuration:
			bad("%s=%q: over %v (harness.MaxDuration), longer than any run may last; want e.g. 30s or 2m", EnvAbortAfter, v, MaxDuration)
		default:
			g.AbortAfter = d
		}
	}
	zone := region.Zone
	if v := strings.TrimSpace(getenv(EnvTimezone)); v != "" {
		zone = v
	}
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			bad("%s=%q: unknown IANA time zone; want e.g. Europe/Dublin", EnvTimezone, zone)
		}
		g.Location = loc
	}
	return g, errs
}

// parseRate reads a share: "0.05", "5%".
func parseRate(v string) (float64, error) {
	pct := strings.HasSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil {
		return 0, errors.New("want a share such as 0.05 or 5%")
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 || f != f {
		return 0, errors.New("want a share between 0 and 1 (or 0% and 100%)")
	}
	return f, nil
}

// Variables returns the names of every environment variable the harness
// reads, sorted (for documentation and for tests that clear them).
func Variables() []string {
	v := []string{EnvRegion, EnvClientID, EnvClientSecret, EnvClientsFile, EnvTarget, EnvProfile, EnvSimURL, EnvTimeScale, EnvLabels, EnvRunID, EnvApproval,
		EnvAllowOutsideWindow, EnvRequestBudget, EnvAbort429Rate, EnvAbort5xxRate, EnvAbortAfter, EnvTimezone, EnvShard, EnvShards,
		EnvUsers, EnvQueues, EnvCallTargets, EnvAllowWrites, EnvAllowStorm, EnvUserTokens, EnvSAMLAssertions, EnvRehearse}
	for n := 2; n <= maxClients; n++ {
		v = append(v, fmt.Sprintf("%s_%d", EnvClientID, n), fmt.Sprintf("%s_%d", EnvClientSecret, n))
	}
	for _, k := range KnobSpecs {
		if !slices.Contains(v, k.Env) {
			v = append(v, k.Env)
		}
	}
	sort.Strings(v)
	return v
}

// envSwitch reads an on/off variable: 1, true or yes is on; unset, 0,
// false or no is off (any case, spaces trimmed); ok is false otherwise.
func envSwitch(getenv func(string) string, name string) (on, ok bool) {
	switch strings.ToLower(strings.TrimSpace(getenv(name))) {
	case "", "0", "false", "no":
		return false, true
	case "1", "true", "yes":
		return true, true
	}
	return false, false
}
