package harness

import (
	"sync"
	"sync/atomic"

	"github.com/cxload/cxload/harness/gcsim"
)

// budgetKey identifies one run's budget: the same tenant, approval, budget
// and shard (and, in tests, the same stand-in simulator).
type budgetKey struct {
	region, approval, shard string
	budget                  int64
	standIn                 *gcsim.Server
}

// runBudgets holds the attempts counted against each budget of this
// process: every Target opened against the same tenant configuration (the
// scenarios of one go test run, parallel ones included) shares one count,
// so CXLOAD_REQUEST_BUDGET bounds the run, not each scenario.
var runBudgets struct {
	sync.Mutex
	m map[budgetKey]*atomic.Int64
}

// runBudget returns the shared count of cfg's budget.
func runBudget(cfg Config, standIn *gcsim.Server) *atomic.Int64 {
	k := budgetKey{region: cfg.Region.Name, approval: cfg.Guard.Approval, shard: cfg.Guard.Shard, budget: cfg.Guard.Budget, standIn: standIn}
	runBudgets.Lock()
	defer runBudgets.Unlock()
	if runBudgets.m == nil {
		runBudgets.m = map[budgetKey]*atomic.Int64{}
	}
	n := runBudgets.m[k]
	if n == nil {
		n = new(atomic.Int64)
		runBudgets.m[k] = n
	}
	return n
}
