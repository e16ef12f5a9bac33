#!/bin/sh
# make-captures.sh refreshes the real `go test -json` captures that the
# reports tests read. Run it from anywhere; it needs the go toolchain and,
# for the benchstat golden, ~/go/bin/benchstat
# (go install golang.org/x/perf/cmd/benchstat@latest).
#
# The captures come from throwaway packages under capture/ (directories named
# testdata are ignored by ./..., so they never run in the normal test suite).
# After refreshing, run `go test ./reports/... -update` to refresh the goldens.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
cap=./reports/testdata/capture
out=$here
benchstat=${BENCHSTAT:-$HOME/go/bin/benchstat}

# Benchmarks with -count 6, twice: the second with CAPTURE_VARIANT=new, in
# which some benchmarks get slower, some faster, one stays the same.
bench() {
	go test -json -count 6 -run '^$' -bench . -benchtime 100000x -benchmem "$cap/bench"
}
CAPTURE_VARIANT= bench >"$out/bench-old.json"
CAPTURE_VARIANT=new bench >"$out/bench-new.json"
# The same runs as plain text, for benchstat and for the plain-text reader.
go run "$cap/jsontext" <"$out/bench-old.json" >"$out/bench-old.txt"
go run "$cap/jsontext" <"$out/bench-new.json" >"$out/bench-new.txt"
if [ -x "$benchstat" ]; then
	(cd "$out" && "$benchstat" -format csv bench-old.txt bench-new.txt >benchstat-old-new.csv 2>/dev/null)
	(cd "$out" && "$benchstat" bench-old.txt bench-new.txt >benchstat-old-new.txt)
else
	echo "make-captures.sh: $benchstat not found; benchstat goldens not refreshed" >&2
fi

# Scenario documents (cxload-result lines), parallel tests, an attr, a skip,
# a line longer than test2json's pieces.
CAPTURE_VARIANT= go test -json -count 1 "$cap/scenario" >"$out/scenario-old.json"
CAPTURE_VARIANT=new go test -json -count 1 "$cap/scenario" >"$out/scenario-new.json"

# Failures: a failing test, a panic, a build failure, a timeout, with lines
# a wrapper script printed into the stream and a line cut short at the end
# (as when the writer is killed).
{
	echo "== wrapper: running the failure packages"
	go test -json -count 1 -timeout 3s "$cap/panicky" "$cap/broken" "$cap/timeout" || true
	echo "== wrapper: done"
	printf '{"Time":"2026-11-26T10:00:00Z","Action":"output","Package":"cut'
} >"$out/failures.json" 2>"$out/failures.stderr"
rm -f "$out/failures.stderr"
echo "make-captures.sh: captures refreshed in $out" >&2
