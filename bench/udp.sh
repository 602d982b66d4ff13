#!/usr/bin/env bash
# bench/udp.sh — udp-server against the tutorial's udp.py (ported to Python 3,
# docs/python/udp.py) and `socat UDP-LISTEN:PORT,fork PIPE`, in one run, with the same
# load (udp-client), alternating, repeated; prints medians (min-max) and ratios, and
# writes them as JSON. udp-server's --handler thread (the tutorial's thread per datagram)
# runs too, to show what that costs.
#
#   bench/udp.sh            # the full run (a few minutes)
#   bench/udp.sh --quick    # small counts, to check the script itself
#
# Workloads:
#   lock-step   udp-client ping mode with --interval 0: a request, its reply, the next
#               request (round trips per second). Twice: with client and server pinned to
#               one core, so each round trip costs exactly the CPU work of both sides (steady
#               to about 1%), and unpinned, as a user would run them (the kernel's choice of
#               cores then moves the result by 2x from run to run);
#   rate sweep  udp-client rate mode, 64-byte requests for one second at 1k, 2k, 4k, ...
#               requests/s (and the midpoints), up to the first rate that loses 1% or
#               more: the highest rate answered with under 1% loss. A step that fails is
#               tried once more (one hiccup of a shared machine should not end a sweep).
#
# (Not pinned to two separate cores: a single lock-step flow then pays two cross-core
# wake-ups per round trip, which on a VM costs more than the work itself.)
# Everything goes to loopback; every process the script starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=5            # lock-step runs per server
COUNT=20000         # round trips per lock-step run
SWEEP_ROUNDS=3      # rate sweeps per server
SWEEP_START=1000    # requests/s of the first step
SWEEP_MAX=1024000   # the sweep stops here whatever the loss
if [[ "${1:-}" == "--quick" ]]; then
    ROUNDS=1 COUNT=500 SWEEP_ROUNDS=1 SWEEP_MAX=4000
fi
SERVERS=(udp-server udp-server-thread python socat)

echo "building release binaries..." >&2
cargo build --release --quiet -p udp-server -p udp-client
source bench/lib.sh
rm -f "$OUT"/udp-*.json

have() { command -v "$1" >/dev/null 2>&1; }

PIN=()
if command -v taskset >/dev/null; then PIN=(taskset -c 0); fi

# start NAME [PIN...]: the server, with an optional CPU pinning command before it.
start() {
    local name=$1; shift
    local cpu=("$@")
    case $name in
        udp-server) start_server "$name" "${cpu[@]}" "$R/udp-server" 127.0.0.1:0 --quiet ;;
        udp-server-thread) start_server "$name" "${cpu[@]}" "$R/udp-server" 127.0.0.1:0 --quiet --handler thread ;;
        python) start_server "$name" "${cpu[@]}" python3 -u docs/python/udp.py 0 ;;
        socat)
            local port
            port=$(free_port udp)
            start_server "$name" "${cpu[@]}" sh -c "echo 'socat on port $port'; exec socat UDP-LISTEN:$port,bind=127.0.0.1,fork PIPE"
            ;;
    esac
}

available() {
    case $1 in
        python) have python3 ;;
        socat) have socat ;;
        *) true ;;
    esac
}

echo "lock-step: $COUNT round trips, $ROUNDS runs each, on one core and unpinned" >&2
for r in $(seq "$ROUNDS"); do
    # Rotate the order from run to run.
    for i in $(seq 0 $((${#SERVERS[@]} - 1))); do
        s=${SERVERS[$(((i + r) % ${#SERVERS[@]}))]}
        available "$s" || continue
        for mode in one-core unpinned; do
            cpu=()
            [[ $mode == one-core ]] && cpu=("${PIN[@]}")
            start "$s" "${cpu[@]}"
            "${cpu[@]}" "$R/udp-client" "$SERVER_ADDR" -q --count "$COUNT" --interval 0 --timeout 0.2 --json \
                >"$OUT/udp-lock-$mode-$s-r$r.json"
            stop_server
        done
    done
done

echo "rate sweep: 1 s per step from $SWEEP_START/s, $SWEEP_ROUNDS sweeps each" >&2
for r in $(seq "$SWEEP_ROUNDS"); do
    for s in "${SERVERS[@]}"; do
        available "$s" || continue
        best=0
        rate=$SWEEP_START
        while (( rate <= SWEEP_MAX )); do
            ok=1
            # The step and its midpoint to the next (x1.41): a finer answer for the same time.
            for step in "$rate" $((rate * 141 / 100)); do
                passed=0
                for _try in 1 2; do
                    start "$s"
                    loss=$("$R/udp-client" "$SERVER_ADDR" -q --rate "$step" --count "$step" --timeout 0.5 --json |
                        python3 -c "import json,sys; print(json.load(sys.stdin)['lost_percent'])")
                    stop_server
                    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)" "$loss"; then
                        passed=1
                        break
                    fi
                done
                if (( passed )); then
                    best=$step
                else
                    ok=0
                    break
                fi
            done
            (( ok )) || break
            rate=$((rate * 2))
        done
        echo "{\"best_rate\": $best}" >"$OUT/udp-sweep-$s-r$r.json"
        echo "  $s: sweep $r: highest rate under 1% loss: $best/s" >&2
    done
done

python3 - "$OUT" "${SERVERS[*]}" "$COUNT" <<'PY'
import json, statistics, sys, glob, os, platform
out, servers, count = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
def runs(pattern, key):
    vals = []
    for f in sorted(glob.glob(os.path.join(out, pattern))):
        vals.append(json.load(open(f))[key])
    return vals
def stats(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": v} if v else None
result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"}
for s in servers:
    lock = {m: [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, f"udp-lock-{m}-{s}-r*.json")))]
            for m in ("one-core", "unpinned")}
    result[s] = {
        "round_trips_per_sec_one_core": stats([x["round_trips_per_sec"] for x in lock["one-core"]]),
        "round_trips_per_sec_unpinned": stats([x["round_trips_per_sec"] for x in lock["unpinned"]]),
        "lost_in_lock_step": sum(x["lost"] for m in lock for x in lock[m]),
        "best_rate_under_1pct_loss": stats(runs(f"udp-sweep-{s}-r*.json", "best_rate")),
    }
names = {"udp-server": "udp-server", "udp-server-thread": "udp-server --handler thread",
         "python": "Python udp.py", "socat": "socat fork PIPE"}
base = result["udp-server"]
def fmt(x, f="{:,.0f}"):
    return "not installed" if x is None else f"{f.format(x['median'])} ({f.format(x['min'])}-{f.format(x['max'])})"
def ratio(a, b):
    return "-" if a is None or b is None or not b["median"] else f"{a['median'] / b['median']:.2f}x"
print(f"\nmachine: {result['machine']}\n")
print("| server | lock-step round trips/s, client and server on one core | udp-server ÷ this "
      "| lock-step, unpinned | udp-server ÷ this | highest rate with <1% loss (req/s) | udp-server ÷ this |")
print("|---|---|---|---|---|---|---|")
for s in servers:
    r = result[s]
    cells = []
    for key in ("round_trips_per_sec_one_core", "round_trips_per_sec_unpinned", "best_rate_under_1pct_loss"):
        cells += [fmt(r[key]), ratio(base[key], r[key])]
    print(f"| {names[s]} | " + " | ".join(cells) + " |")
lost = {s: result[s]["lost_in_lock_step"] for s in servers}
print(f"\nlock-step: {count:,} round trips per run; replies lost in lock-step runs: {lost}")
json.dump(result, open(os.path.join(out, "udp.json"), "w"), indent=2)
print(f"(JSON: {os.path.join(out, 'udp.json')})")
PY
