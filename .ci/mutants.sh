#!/usr/bin/env bash
# The mutation check: cargo-mutants changes the pure cores one small way at a time (a `+`
# for a `-`, a function that returns a constant, a condition that is always true) and runs
# the crate's unit tests on each change. A change that no test notices ("missed") is a
# hole in the tests: this script fails on it, and names it. The files, the test
# arguments and the mutants that cannot be caught (each with its reason) are in
# .cargo/mutants.toml.
#
#   bash .ci/mutants.sh           every mutant of the pure cores (CI runs this)
#   bash .ci/mutants.sh --list    only list them
#   bash .ci/mutants.sh --file tcp-server/src/session.rs    one file (more cargo-mutants
#                                 options may follow)
#
# --in-place: the mutants are made in this tree (and undone), so the build is incremental
# and the check takes minutes, not the hour of a fresh copy per run. Do not edit the tree
# while it runs. Needs cargo-mutants (.ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --list ]]; then
    exec cargo mutants "$@"
fi
rm -rf mutants.out mutants.out.old
# A proptest failure of a mutant is not a regression of the code: keep no file of it. And
# the same cases on every run: a mutant a property catches is caught every time.
export PROPTEST_DISABLE_FAILURE_PERSISTENCE=1
export PROPTEST_RNG_SEED=20261202
# In place: whatever happens, the tree must be as it was (an interrupted run can leave a
# mutant in a file).
files=$(sed -n '/^examine_globs/,/]/p' .cargo/mutants.toml | grep -o '"[^"]*"' | tr -d '"')
# shellcheck disable=SC2086
state() { cat $files | sha256sum; }
start_state=$(state)
check_clean() {
    if [[ $(state) != "$start_state" ]]; then
        echo "mutants: a file was left mutated (an interrupted run?): git diff -- $files" >&2
        exit 1
    fi
}
trap check_clean EXIT
code=0
# The timeout only ever waits for a mutant that hangs the tests (each crate's unit tests
# take a second or two); the baseline gets its own, longer one.
cargo mutants --in-place --no-shuffle --minimum-test-timeout 10 "$@" || code=$?
out=mutants.out
caught=$(wc -l <"$out/caught.txt" 2>/dev/null || echo 0)
missed=$(wc -l <"$out/missed.txt" 2>/dev/null || echo 0)
timeout=$(wc -l <"$out/timeout.txt" 2>/dev/null || echo 0)
unviable=$(wc -l <"$out/unviable.txt" 2>/dev/null || echo 0)
echo "mutants: $caught caught, $missed missed, $timeout timeout, $unviable unviable"
# A mutant that hangs the tests is caught too (the test run never ends well): a timeout
# passes. A missed one fails (from the list, and from exit code 2: the exit code says only
# one outcome, and a timeout's 3 can hide a miss), and so does anything else that went
# wrong (exit 1 or 4: a bad call, or tests that fail without any mutant).
if ((missed > 0)) || [[ -s $out/missed.txt ]] || ((code == 2)); then
    echo "missed mutants (no test notices them; add a test, or list one that cannot be" >&2
    echo "caught in .cargo/mutants.toml with the reason):" >&2
    sed 's/^/   /' "$out/missed.txt" >&2
    exit 1
fi
case $code in
    0 | 3) ;;
    *)
        echo "cargo mutants failed (exit $code): see $out/debug.log" >&2
        exit 1
        ;;
esac
