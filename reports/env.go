package reports

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/shard"
)

// Environment variables read by EnvFromEnviron.
const (
	// EnvLabels holds matrix labels, "key=value,key=value".
	EnvLabels = "CXLOAD_LABELS"
	// EnvShard names this shard of a run, e.g. "2/4"; it becomes the
	// "shard" label.
	EnvShard = shard.Env
	// EnvRunID names the run; shards of one run share it. Without it,
	// GitHub's run id and attempt are used, then the start time and
	// commit.
	EnvRunID = "CXLOAD_RUN_ID"
	// EnvCommit and EnvBranch override the commit and branch.
	EnvCommit = "CXLOAD_COMMIT"
	EnvBranch = "CXLOAD_BRANCH"
)

// ShardLabel is the label that holds the shard of a run.
const ShardLabel = result.ShardLabel

// EnvFromEnviron returns what the environment says about the run: commit and
// branch (CXLOAD_COMMIT/CXLOAD_BRANCH, else GITHUB_SHA and
// GITHUB_HEAD_REF/GITHUB_REF_NAME), the CI run URL, the run id
// (CXLOAD_RUN_ID, else GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT) and the matrix
// labels (CXLOAD_LABELS, plus CXLOAD_SHARD as "shard", written "i/n").
// getenv is usually os.Getenv.
func EnvFromEnviron(getenv func(string) string) (Env, error) {
	env := Env{
		Commit: cmp.Or(getenv(EnvCommit), getenv("GITHUB_SHA")),
		Branch: cmp.Or(getenv(EnvBranch), getenv("GITHUB_HEAD_REF"), getenv("GITHUB_REF_NAME")),
	}
	if srv, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); srv != "" && repo != "" && id != "" {
		env.URL = srv + "/" + repo + "/actions/runs/" + id
	}
	labels, err := ParseLabels(getenv(EnvLabels))
	if err != nil {
		return Env{}, fmt.Errorf("reports: %s: %w", EnvLabels, err)
	}
	if strings.TrimSpace(getenv(EnvShard)) != "" {
		sh, err := shard.FromEnv(getenv)
		if err != nil {
			return Env{}, fmt.Errorf("reports: %w", err)
		}
		if labels == nil {
			labels = make(map[string]string)
		}
		labels[ShardLabel] = sh.String()
	}
	runID := getenv(EnvRunID)
	if runID == "" && getenv("GITHUB_RUN_ID") != "" {
		runID = getenv("GITHUB_RUN_ID") + "-" + cmp.Or(getenv("GITHUB_RUN_ATTEMPT"), "1")
	}
	if runID != "" {
		if labels == nil {
			labels = make(map[string]string)
		}
		labels[runIDLabel] = runID
	}
	env.Labels = labels
	return env, nil
}

// ParseLabels parses "key=value,key=value" (see result.ParseLabels).
func ParseLabels(s string) (map[string]string, error) { return result.ParseLabels(s) }
