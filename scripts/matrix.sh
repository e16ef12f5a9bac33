#!/usr/bin/env bash
# matrix.sh — the CI matrix on one machine.
#
# Runs one load scenario as N shards, each a separate
#   go test -tags load -count=1 -json ./loadtest   with CXLOAD_SHARD=i/N
# against ONE simulator server (go run ./scripts/gcsim), merges the legs with
# go run ./scripts/report exactly as the merge job of
# .github/workflows/loadtest.yml does, runs the same load in a single process
# against the same server, and checks (TestMatrixCompare in loadtest/):
#   - counts: the merged report equals the single-process run, exactly;
#   - percentiles: the merged report equals the shards' histograms merged
#     independently, within the histograms' precision;
#   - budget: the simulator's counters (GET /admin/stats) show that the
#     shards together never exceeded a limit (nothing rejected, no 429) and
#     sent the same requests per route and status as the single process.
#
# Usage: scripts/matrix.sh [-n SHARDS] [-a AGENTS] [-i ITERATIONS] [-t THINK] [-o DIR]
#   -n  shards (default 4)
#   -a  agents over all shards (default 16)
#   -i  calls per agent of TestAgentShift (default 6): exact counts, whatever the timing
#   -t  mean talk time of a call (default 200ms)
#   -o  output directory (default: a new temporary directory, printed)
# Everything runs on 127.0.0.1; no Genesys credentials are used (they are unset).
set -euo pipefail

shards=4 agents=16 iterations=6 think=200ms out=""
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "n:a:i:t:o:h" opt; do
  case $opt in
    n) shards=$OPTARG ;;
    a) agents=$OPTARG ;;
    i) iterations=$OPTARG ;;
    t) think=$OPTARG ;;
    o) out=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for v in shards agents iterations; do
  if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1)); then
    echo "matrix.sh: -${v:0:1} $v must be a whole number >= 1, got '${!v}'" >&2
    exit 2
  fi
done
if ((shards > agents)); then
  echo "matrix.sh: $shards shards for $agents agents: some shards would have no agent; use -a >= -n" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
[[ -n $out ]] || out=$(mktemp -d "${TMPDIR:-/tmp}/cxload-matrix.XXXXXX")
mkdir -p "$out/legs" "$out/single"
rm -f "$out"/legs/*.json "$out"/single/*.json
scenario=TestAgentShift
run_id=$(date -u +%Y%m%dT%H%M%SZ)
echo "matrix.sh: $shards shards of $scenario, $agents agents x $iterations calls; output in $out"

# The simulator's profile: Genesys' defaults, with notification heartbeats
# and socket_closing grace shortened and enough channels per OAuth client for
# every agent (as the embedded simulator of TestAgentShift does), and one
# queue per agent: each agent's calls are queued on its own queue, so every
# shard takes exactly its agents' calls. No traffic model: the shift queues
# the calls itself (POST /admin/calls). The tests read the same file
# (CXLOAD_PROFILE) to know what the server runs.
cat >"$out/profile.json" <<EOF
{"notifications": {"heartbeatInterval": "1s", "maxChannelsPerOwner": 1000, "maxTopicsPerChannel": 1000,
                   "channelTTL": "24h", "sendBuffer": 256, "socketClosingGrace": "1s"},
 "directory": {"queues": $agents}}
EOF

# One simulator for everyone. set -m gives the background job its own process
# group, so stopping it stops go run and the server it started.
set -m
go run ./scripts/gcsim -addr 127.0.0.1:0 -profile "$out/profile.json" >"$out/gcsim.log" 2>&1 &
sim_pid=$!
set +m
stop_sim() {
  if kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM -- "-$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
}
trap stop_sim EXIT
url=""
for _ in $(seq 1 600); do
  url=$(sed -n 's/^  API and login base: \(http:[^ ]*\).*/\1/p' "$out/gcsim.log" | head -n1)
  [[ -n $url ]] && break
  if ! kill -0 "$sim_pid" 2>/dev/null; then
    echo "matrix.sh: the simulator did not start:" >&2
    cat "$out/gcsim.log" >&2
    exit 1
  fi
  sleep 0.2
done
if [[ -z $url ]]; then
  echo "matrix.sh: the simulator printed no URL within 2 minutes (see $out/gcsim.log)" >&2
  exit 1
fi
echo "matrix.sh: simulator at $url"

# The load, the same for the single process and the shards. The tenant
# variables are unset: this script only ever talks to the local simulator.
load_env=(
  -u GENESYSCLOUD_REGION -u GENESYSCLOUD_OAUTHCLIENT_ID -u GENESYSCLOUD_OAUTHCLIENT_SECRET -u CXLOAD_CLIENTS_FILE
  -u CXLOAD_APPROVAL -u CXLOAD_REQUEST_BUDGET -u CXLOAD_TARGET
  CXLOAD_SIM_URL="$url" CXLOAD_PROFILE="$out/profile.json"
  CXLOAD_AGENTS="$agents" CXLOAD_ITERATIONS="$iterations" CXLOAD_THINK="$think" CXLOAD_RAMP=1s CXLOAD_SEED=1
)
pattern="^(${scenario})\$"

reset_sim() { curl -fsS -X POST "$url/admin/reset" >/dev/null; }
stats() { curl -fsS "$url/admin/stats" >"$1"; }

# Build the test binary once before the runs (go test then reuses it), so
# that every process runs the same code even if the tree changes meanwhile.
echo "matrix.sh: building the load tests"
go test -tags load -count=1 -run '^$' ./loadtest >/dev/null

echo "matrix.sh: single-process run"
reset_sim
status=0
env "${load_env[@]}" CXLOAD_LABELS="scenario=$scenario,target=simulator" \
  go test -tags load -count=1 -timeout 20m -json -run "$pattern" ./loadtest >"$out/single/leg-single.json" || status=$?
stats "$out/single-stats.json"
echo "matrix.sh: single-process go test exit status $status"

echo "matrix.sh: $shards shards in parallel"
reset_sim
pids=()
for ((i = 1; i <= shards; i++)); do
  env "${load_env[@]}" CXLOAD_SHARD="$i/$shards" CXLOAD_LABELS="scenario=$scenario,shard=$i/$shards,target=simulator" \
    go test -tags load -count=1 -timeout 20m -json -run "$pattern" ./loadtest >"$out/legs/leg-${scenario}-${i}of${shards}.json" &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "matrix.sh: shard $((i + 1))/$shards: go test failed (see $out/legs)" >&2
    failed=1
  fi
done
stats "$out/shards-stats.json"

# The merge job's command (loadtest.yml), on the shards' legs.
echo "matrix.sh: merging the legs with scripts/report"
merge=0
CXLOAD_RUN_ID="matrix-$run_id" go run ./scripts/report -history "$out/history.jsonl" -html "$out/report.html" \
  -json "$out/merged.json" -fail-on tests "$out"/legs/leg-*.json >"$out/report.md" || merge=$?
CXLOAD_RUN_ID="single-$run_id" go run ./scripts/report -json "$out/single.json" -fail-on tests \
  "$out/single/leg-single.json" >"$out/single.md" || true
stop_sim
trap - EXIT

echo "matrix.sh: comparing"
compare=0
env -u CXLOAD_SHARD CXLOAD_MATRIX_DIR="$out" go test -tags load -count=1 -v -run '^TestMatrixCompare$' ./loadtest \
  | grep -v '^=== RUN' || compare=${PIPESTATUS[0]}

echo
echo "matrix.sh: report $out/report.md, HTML $out/report.html, single-process $out/single.md"
if ((status != 0 || failed != 0 || merge != 0 || compare != 0)); then
  echo "matrix.sh: FAIL (single run $status, shards $failed, merge $merge, comparison $compare)" >&2
  exit 1
fi
echo "matrix.sh: PASS: $shards shards merged equal one process, within the simulator's limits"
