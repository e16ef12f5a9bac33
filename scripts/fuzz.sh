#!/usr/bin/env bash
# Fuzz every parser of outside input for a bounded time each.
#
#   scripts/fuzz.sh                 # 10s per target
#   FUZZTIME=40000x scripts/fuzz.sh # 40,000 inputs per target (CI: a count has no deadline, see .ci/run)
#   FUZZTIME=5m scripts/fuzz.sh     # longer, locally
#   scripts/fuzz.sh FuzzParseProfile FuzzReader   # only these targets
#
# The seed corpora (f.Add and testdata/fuzz/<Target>/) also run in a plain
# `go test ./...`. A failure leaves the failing input in
# <package>/testdata/fuzz/<Target>/: commit it with the fix, it becomes a seed.
# -fuzzminimizetime is short: minimizing a large "interesting" input can
# otherwise stall a worker for a minute per input while the clock runs.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-10s}"
PARALLEL="${FUZZ_PARALLEL:-2}"

# Every fuzz target of the module ("./pkg FuzzName"), found in the test
# files so that a new target is fuzzed without editing this script. Today:
# harness/genesys   FuzzParseRetryAfter FuzzParseRateLimitHeaders FuzzParseLimitBody
#                   FuzzRetryAfterRoundTrip FuzzRateLimitHeadersRoundTrip
#                   FuzzLimitBodyRoundTrip FuzzParseLimitMessage
# harness/api       FuzzExpandRoute
# harness/gcsim     FuzzParseProfile
# scripts/lab/peers FuzzServe (the raw target; the lab's own module)
# harness           FuzzResolveTarget (CXLOAD_*, GENESYSCLOUD_*, clients file)
#                   FuzzPlanEstimate (the guard's request estimate: never negative, monotone)
# harness/shard     FuzzParseShard
# harness/workload  FuzzParseStages
# harness/agent     FuzzReadUsers
# harness/result    FuzzParseThreshold FuzzDecodeDocument FuzzCheckOwn
# reports           FuzzHistoryFile FuzzParseLabels
# reports/testjson  FuzzReader FuzzReaderOutput FuzzBenchmarkLine FuzzDecodeEvent
# harness           FuzzKnobs (the CXLOAD_* scenario knobs)
# A target in a file with a //go:build constraint (loadtest: "load") is
# fuzzed with that tag.
mapfile -t TARGETS < <(
	git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | while read -r f; do
		tags=$(sed -n 's|^//go:build \([a-z]*\)$|\1|p' "$f" | head -1)
		grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |./$(dirname "$f") |; s|\$| ${tags}|"
	done | sort -u
)

echo "fuzz: ${#TARGETS[@]} targets, ${FUZZTIME} each"
want=("$@")
failed=()
for t in "${TARGETS[@]}"; do
	read -r pkg name tags <<<"$t"
	# shellcheck disable=SC2076 # a literal match of the name in the list is meant
	if ((${#want[@]} > 0)) && [[ ! " ${want[*]} " =~ " ${name} " ]]; then
		continue
	fi
	echo "== fuzz ${name} (${pkg}${tags:+, -tags ${tags}}, ${FUZZTIME})"
	# A package of the lab module (scripts/lab, a module of its own) is
	# fuzzed from inside that module.
	dir=.
	if [[ ${pkg} == ./scripts/lab/* ]]; then
		dir=scripts/lab
		pkg="./${pkg#./scripts/lab/}"
	fi
	if ! (cd "${dir}" && go test ${tags:+-tags "${tags}"} -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME}" -fuzzminimizetime 2s -parallel "${PARALLEL}" "${pkg}"); then
		failed+=("${pkg} ${name}")
	fi
done
if ((${#failed[@]} > 0)); then
	echo "fuzz: FAILED: ${failed[*]} (failing inputs are in <package>/testdata/fuzz/<Target>/)" >&2
	exit 1
fi
echo "fuzz: all targets passed"
