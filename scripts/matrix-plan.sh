#!/usr/bin/env bash
# matrix-plan.sh SCENARIOS SHARDS — prints the GitHub Actions matrix for loadtest.yml as JSON:
# one cell per scenario and shard, e.g. {"include":[{"scenario":"TestAgentShift","shard":"1/2"},...]}.
set -euo pipefail
scenarios=${1:?usage: matrix-plan.sh SCENARIOS SHARDS}
shards=${2:?usage: matrix-plan.sh SCENARIOS SHARDS}
if ! [[ $shards =~ ^[0-9]+$ ]] || (( shards < 1 || shards > 16 )); then
  echo "matrix-plan.sh: shards must be a whole number from 1 to 16, got '$shards'" >&2
  exit 2
fi
out='{"include":['
sep=''
IFS=',' read -ra names <<<"$scenarios"
for name in "${names[@]}"; do
  name=$(echo "$name" | tr -d '[:space:]')
  [[ -z $name ]] && continue
  if ! [[ $name =~ ^[A-Za-z0-9_|/.-]+$ ]]; then
    echo "matrix-plan.sh: scenario '$name' has characters a go test -run pattern of test names does not need" >&2
    exit 2
  fi
  for ((i = 1; i <= shards; i++)); do
    out+="${sep}{\"scenario\":\"${name}\",\"shard\":\"${i}/${shards}\"}"
    sep=','
  done
done
out+=']}'
echo "$out"
