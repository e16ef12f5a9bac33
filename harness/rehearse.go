package harness

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cxload/cxload/harness/gcsim"
)

// EnvRehearse, set to 1, runs a scenario as on a tenant (the guard, fixture
// users, write consent, user tokens) against a strict stand-in of one: a
// simulator in tenant mode (gcsim.NewTenantStandIn) on loopback, reached
// over TLS and HTTP/2 by its login., api. and streaming. host names, which
// only the target's dialer resolves. Nothing leaves the machine.
const EnvRehearse = "CXLOAD_REHEARSE"

// What a rehearsal sets up. RehearsalOutsiders directory users come
// before the fixture users, so that a scenario taking "the first N users"
// instead of the fixture would touch users outside it. Every user is the
// only member of a queue of its own, and CXLOAD_QUEUES names the fixture
// users' queues: the outsiders' queues are outside the fixture too.
const (
	RehearsalApproval   = "REHEARSAL"
	RehearsalBudget     = 5_000_000
	RehearsalWrites     = "presence,routing,queues,calls,recording"
	RehearsalOutsiders  = 10
	rehearsalRegionRule = "eu-west-1" // whose guard rules (time zone) the rehearsal uses
)

// rehearsal is a running rehearsal's stand-in and the files it wrote.
type rehearsal struct {
	sim      *gcsim.Server
	dir      string
	users    []gcsim.User // the fixture
	env      map[string]string
	getenv   func(string) string
	consent  string
	outsider []gcsim.User
}

// rehearsing reports whether CXLOAD_REHEARSE asks for a rehearsal.
func rehearsing(getenv func(string) string) (bool, error) {
	switch v := strings.TrimSpace(getenv(EnvRehearse)); v {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, fmt.Errorf("harness: %s=%q: want 1 (rehearse on the tenant stand-in) or 0", EnvRehearse, v)
	}
}

// openRehearsal starts the stand-in for a scenario of up to
// max(agents, gcsim.DefaultAgents) users and
// writes its fixture file; its getenv is the environment with the tenant
// variables of the stand-in put over it (the scenario's knobs pass).
func openRehearsal(getenv func(string) string, agents int) (*rehearsal, error) {
	// Every directory user but the outsiders is a fixture user: a scenario
	// sizes its population after Open (knobs, -short), and the fixture must
	// hold it.
	p := gcsim.DefaultProfile()
	p.Directory.Agents = max(p.Directory.Agents, agents) + RehearsalOutsiders
	p.Directory.Queues = p.Directory.Agents
	n := p.Directory.Agents - RehearsalOutsiders
	sim := gcsim.NewTenantStandIn(p, gcsim.TenantMode{})
	dir, err := os.MkdirTemp("", "cxload-rehearsal-")
	if err != nil {
		sim.Close()
		return nil, fmt.Errorf("harness: %s=1: making the fixture directory: %v", EnvRehearse, err)
	}
	r := &rehearsal{sim: sim, dir: dir}
	all := sim.Users()
	r.outsider, r.users = all[:RehearsalOutsiders], all[RehearsalOutsiders:RehearsalOutsiders+n]
	var b strings.Builder
	b.WriteString("# the rehearsal's fixture users\n")
	for _, u := range r.users {
		b.WriteString(u.ID + "\n")
	}
	usersFile := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(usersFile, []byte(b.String()), 0o600); err != nil {
		r.close()
		return nil, fmt.Errorf("harness: %s=1: writing the fixture file: %v", EnvRehearse, err)
	}
	b.Reset()
	b.WriteString("# the rehearsal's fixture queues: the fixture users'\n")
	for _, u := range r.users {
		b.WriteString(u.QueueID + "\n")
	}
	queuesFile := filepath.Join(dir, "queues.txt")
	if err := os.WriteFile(queuesFile, []byte(b.String()), 0o600); err != nil {
		r.close()
		return nil, fmt.Errorf("harness: %s=1: writing the fixture file: %v", EnvRehearse, err)
	}
	// The stand-in's identity provider: an assertion file per fixture user,
	// read by the pool through CXLOAD_SAML_ASSERTIONS as a user's would be.
	samlDir := filepath.Join(dir, "saml")
	if err := os.Mkdir(samlDir, 0o700); err != nil {
		r.close()
		return nil, fmt.Errorf("harness: %s=1: making the assertions directory: %v", EnvRehearse, err)
	}
	for _, u := range r.users {
		if err := os.WriteFile(filepath.Join(samlDir, u.ID+".saml"), []byte(gcsim.SAMLAssertion(u.ID)), 0o600); err != nil {
			r.close()
			return nil, fmt.Errorf("harness: %s=1: writing the assertion files: %v", EnvRehearse, err)
		}
	}
	prof := sim.Profile()
	r.env = map[string]string{
		EnvTarget: KindTenant, EnvRegion: rehearsalRegionRule,
		EnvClientID: prof.Clients[0].ID, EnvClientSecret: string(prof.Clients[0].Secret),
		EnvClientID + "_2": prof.Clients[1].ID, EnvClientSecret + "_2": string(prof.Clients[1].Secret),
		EnvClientsFile: "", EnvProfile: "", EnvSimURL: "", EnvTimeScale: "", EnvUserTokens: "", EnvSAMLAssertions: samlDir,
		EnvApproval: RehearsalApproval, EnvRequestBudget: fmt.Sprint(RehearsalBudget), EnvAllowOutsideWindow: "1",
		EnvUsers: usersFile, EnvQueues: queuesFile, EnvCallTargets: "", EnvAllowWrites: RehearsalWrites, EnvAllowStorm: "",
	}
	for n := 3; n <= maxClients; n++ {
		r.env[fmt.Sprintf("%s_%d", EnvClientID, n)], r.env[fmt.Sprintf("%s_%d", EnvClientSecret, n)] = "", ""
	}
	r.getenv = func(k string) string {
		if v, ok := r.env[k]; ok {
			return v
		}
		return getenv(k)
	}
	r.consent = fmt.Sprintf("%s=%s %s=%s %s=%s %s=%s %s=%s (%d fixture users and their queues; %d directory users and queues outside them; user tokens by the SAML2 bearer grant); no %s",
		EnvUsers, usersFile, EnvQueues, queuesFile, EnvSAMLAssertions, samlDir, EnvAllowWrites, RehearsalWrites, EnvApproval, RehearsalApproval, n, RehearsalOutsiders, EnvAllowStorm)
	return r, nil
}

// apply makes cfg, resolved from the rehearsal's environment, point at
// the stand-in: its domain and hosts. The fixture users' tokens come from
// the environment, as on a tenant (CXLOAD_SAML_ASSERTIONS).
func (r *rehearsal) apply(cfg *Config) {
	cfg.Region.Name = "rehearsal"
	cfg.Region.Domain = r.sim.TenantDomain()
	cfg.APIBase, cfg.LoginBase = r.sim.URL(), r.sim.LoginURL()
	cfg.Why = EnvRehearse + "=1, tenant stand-in " + r.sim.TenantDomain()
}

// tlsConfig trusts a tenant stand-in's test CA (the rehearsal's, or one
// given to WithTenantStandIn); nil for any other target.
func (tg *Target) tlsConfig() *tls.Config {
	if tg.dial == nil || tg.dial.Roots() == nil {
		return nil
	}
	return &tls.Config{RootCAs: tg.dial.Roots(), MinVersion: tls.VersionTLS12}
}

func (r *rehearsal) close() {
	r.sim.Close()
	os.RemoveAll(r.dir)
}

// Rehearsal returns the stand-in of a rehearsal (CXLOAD_REHEARSE=1), nil
// otherwise. Tests read its request log (TenantRequests).
func (tg *Target) Rehearsal() *gcsim.Server {
	if tg.reh == nil {
		return nil
	}
	return tg.reh.sim
}

// Rehearsing reports whether the target is a rehearsal's stand-in: a
// scenario that cannot work on a real tenant says so in its summary.
func (tg *Target) Rehearsing() bool { return tg.reh != nil }

// FixtureUsers returns the ids of a rehearsal's fixture users (nil
// otherwise).
func (tg *Target) FixtureUsers() []string {
	if tg.reh == nil {
		return nil
	}
	ids := make([]string, len(tg.reh.users))
	for i, u := range tg.reh.users {
		ids[i] = u.ID
	}
	return ids
}
