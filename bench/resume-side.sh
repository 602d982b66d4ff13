#!/usr/bin/env bash
# bench/resume-side.sh — the sending side of the resume benchmark, run by bench/run.sh,
# on loopback or on the right of the cable. It prints the seconds the timed send took.
#
#   bench/resume-side.sh fresh|resumed BIN_DIR SERVER_ADDR FILE STORE_DIR
#
# fresh: one send of FILE. resumed: first a send that bench/src/bin/cut.rs breaks after
# exactly half of FILE (the server keeps that half), then the timed send, which must say
# that it resumed there (its --json). Either way the timed send is one `upload send`, from
# exec to exit: the server's hash of the half it holds is inside it.
set -euo pipefail
kind=$1 bin=$2 server=$3 file=$4 store=$5
size=$(stat -c %s "$file")
half=$((size / 2))
if [[ $kind == resumed ]]; then
    # What the sender says before the file's bytes: its HELLO and RESUME lines.
    control=$(printf 'HELLO resume/1 tree/1 stream/1 get/1\nRESUME %s %s\n' "$size" "$(basename "$file")" | wc -c)
    out=$(mktemp)
    "$bin/cut" "$server" --after $((control + half)) >"$out" 2>&1 &
    cut_pid=$!
    addr=""
    for _ in $(seq 200); do
        addr=$(grep -o -m1 'listening on [^ ]*' "$out" 2>/dev/null | cut -d' ' -f3 || true)
        [[ -n $addr ]] && break
        sleep 0.05
    done
    # It fails when the connection is cut, as it should.
    "$bin/upload" send "$file" --to "$addr" --quiet --no-progress >/dev/null 2>&1 || true
    wait "$cut_pid"
    rm -f "$out"
    # The server keeps the half once it notices the end: wait for its record to say so.
    for _ in $(seq 400); do
        grep -qs "\"offset\":$half," "$store"/.*.resume.json && break
        sleep 0.05
    done
    # ... and frees the name just after writing it.
    sleep 0.2
fi
sync
json=$(mktemp)
t0=$(date +%s.%N)
"$bin/upload" send "$file" --to "$server" --quiet --no-progress --json >"$json"
t1=$(date +%s.%N)
python3 - "$json" "$kind" "$half" "$t0" "$t1" <<'PY'
import json, sys
sent = json.load(open(sys.argv[1]))
kind, half = sys.argv[2], int(sys.argv[3])
want = half if kind == "resumed" else 0
if sent["resumed_at"] != want or not sent["verified"]:
    sys.exit(f"resume-side: the {kind} send began at byte {sent['resumed_at']}, not {want} (verified: {sent['verified']})")
print(f"{float(sys.argv[5]) - float(sys.argv[4]):.6f}")
PY
rm -f "$json"
