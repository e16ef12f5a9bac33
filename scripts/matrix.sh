#!/usr/bin/env bash
# matrix.sh — the CI matrix on one machine.
#
# Runs one load scenario as N shards, each a separate
#   go test -tags load -count=1 -json ./loadtest
# against ONE simulator server (go run ./scripts/gcsim), once as the Actions
# matrix sets the shard (CXLOAD_SHARD=i/N, legs leg-<scenario>-<i>ofN.json)
# and once as a Kubernetes Indexed Job does (JOB_COMPLETION_INDEX=i-1 and
# CXLOAD_SHARDS=N from the manifest, CXLOAD_SHARD unset, legs leg-<i-1>.json),
# merges each set of legs with go run ./scripts/report exactly as the merge
# job of .github/workflows/loadtest.yml and deploy/kubernetes/merge.yaml do,
# runs the same load in a single process against the same server, and checks
# for each (TestMatrixCompare in loadtest/):
#   - counts: the merged report equals the single-process run, exactly;
#   - percentiles: the merged report equals the shards' histograms merged
#     independently, within the histograms' precision;
#   - budget: the simulator's counters (GET /admin/stats) show that the
#     shards together never exceeded a limit (nothing rejected, no 429) and
#     sent the same requests per route and status as the single process;
#   - completeness: every document carries the run id and its shard (for
#     Kubernetes, leg-k holds shard k+1/N), and the merge of the legs without
#     shard 2's fails, naming that shard.
#
# Usage: scripts/matrix.sh [-n SHARDS] [-m MODE] [-a AGENTS] [-i ITERATIONS] [-t THINK] [-o DIR]
#   -n  shards (default 4)
#   -m  how the shards learn their part: actions, k8s or both (default both)
#   -a  agents over all shards (default 16)
#   -i  calls per agent of TestAgentShift (default 6): exact counts, whatever the timing
#   -t  mean talk time of a call (default 200ms)
#   -o  output directory (default: a new temporary directory, printed)
# Everything runs on 127.0.0.1; no Genesys credentials are used (they are unset).
set -euo pipefail

shards=4 agents=16 iterations=6 think=200ms out="" mode=both
# usage prints the comment block above (line 2 to the first line that is not a comment).
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "n:m:a:i:t:o:h" opt; do
  case $opt in
    n) shards=$OPTARG ;;
    m) mode=$OPTARG ;;
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
case $mode in
  actions) modes=(actions) ;;
  k8s) modes=(k8s) ;;
  both) modes=(actions k8s) ;;
  *) echo "matrix.sh: -m $mode: want actions, k8s or both" >&2; exit 2 ;;
esac
if ((shards > agents)); then
  echo "matrix.sh: $shards shards for $agents agents: some shards would have no agent; use -a >= -n" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
[[ -n $out ]] || out=$(mktemp -d "${TMPDIR:-/tmp}/cxload-matrix.XXXXXX")
mkdir -p "$out/single"
rm -f "$out"/single/*.json
for m in "${modes[@]}"; do
  mkdir -p "$out/$m/legs"
  rm -f "$out/$m"/legs/*.json "$out/$m"/dropped/*.json
done
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
  -u CXLOAD_SHARD -u JOB_COMPLETION_INDEX -u CXLOAD_SHARDS -u CXLOAD_RUN_ID
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

# run_shards MODE: the shards of one mode, in parallel, as its CI sets them;
# their legs, the simulator's counters and the merge go to $out/MODE. The
# merge must fail, naming shard 2, without shard 2's leg.
run_shards() {
  local m=$1 dir="$out/$1" id="matrix-$1-$run_id" i leg
  echo "matrix.sh: $shards shards in parallel, shard set as by ${m}"
  reset_sim
  local pids=() legs=()
  for ((i = 1; i <= shards; i++)); do
    if [[ $m == k8s ]]; then
      # As a Kubernetes Indexed Job: a 0-based index, the count from the manifest.
      leg="$dir/legs/leg-$((i - 1)).json"
      env "${load_env[@]}" JOB_COMPLETION_INDEX=$((i - 1)) CXLOAD_SHARDS="$shards" CXLOAD_RUN_ID="$id" \
        CXLOAD_LABELS="scenario=$scenario,target=simulator" \
        go test -tags load -count=1 -timeout 20m -json -run "$pattern" ./loadtest >"$leg" &
    else
      leg="$dir/legs/leg-${scenario}-${i}of${shards}.json"
      env "${load_env[@]}" CXLOAD_SHARD="$i/$shards" CXLOAD_RUN_ID="$id" \
        CXLOAD_LABELS="scenario=$scenario,shard=$i/$shards,target=simulator" \
        go test -tags load -count=1 -timeout 20m -json -run "$pattern" ./loadtest >"$leg" &
    fi
    pids+=($!)
    legs+=("$leg")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "matrix.sh: $m shard $((i + 1))/$shards: go test failed (see $dir/legs)" >&2
      failed=1
    fi
  done
  stats "$dir/shards-stats.json"
  cp "$out/single.json" "$out/single-stats.json" "$dir/"

  # The merge job's command (loadtest.yml, merge.yaml), on the shards' legs.
  echo "matrix.sh: merging the $m legs with scripts/report"
  local status=0
  CXLOAD_RUN_ID="$id" go run ./scripts/report -history "$dir/history.jsonl" -html "$dir/report.html" \
    -json "$dir/merged.json" -fail-on tests "${legs[@]}" >"$dir/report.md" || status=$?
  if ((status != 0)); then
    echo "matrix.sh: $m merge: scripts/report exit status $status" >&2
    merge=1
  fi
  echo "$id" >"$dir/run-id"
  # Without shard 2's leg the merge must fail and name it (TestMatrixCompare reads the verdict).
  if ((shards >= 2)); then
    status=0
    CXLOAD_RUN_ID="$id" go run ./scripts/report -json "$dir/dropped.json" "${legs[0]}" "${legs[@]:2}" \
      >/dev/null 2>"$dir/dropped.stderr" || status=$?
    echo "$status" >"$dir/dropped.status"
    echo "2/$shards" >"$dir/dropped.shard"
    printf '%s\n' "${legs[1]}" >"$dir/dropped.leg"
  fi
}

# The single-process report, which each mode's comparison reads.
CXLOAD_RUN_ID="single-$run_id" go run ./scripts/report -json "$out/single.json" -fail-on tests \
  "$out/single/leg-single.json" >"$out/single.md" || true
failed=0 merge=0
for m in "${modes[@]}"; do
  run_shards "$m"
done
stop_sim
trap - EXIT

compare=0
for m in "${modes[@]}"; do
  echo "matrix.sh: comparing the $m merge with the single process"
  env -u CXLOAD_SHARD -u JOB_COMPLETION_INDEX -u CXLOAD_SHARDS CXLOAD_MATRIX_DIR="$out/$m" CXLOAD_MATRIX_MODE="$m" \
    go test -tags load -count=1 -v -run '^TestMatrixCompare$' ./loadtest | grep -v '^=== RUN' || compare=${PIPESTATUS[0]}
done

echo
echo "matrix.sh: reports $out/{$(IFS=,; echo "${modes[*]}")}/report.md (and .html), single-process $out/single.md"
if ((status != 0 || failed != 0 || merge != 0 || compare != 0)); then
  echo "matrix.sh: FAIL (single run $status, shards $failed, merge $merge, comparison $compare)" >&2
  exit 1
fi
echo "matrix.sh: PASS (${modes[*]}): $shards shards merged equal one process, within the simulator's limits; without a leg the merge fails naming it"
