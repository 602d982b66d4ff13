#!/usr/bin/env bash
# bench/tcp.sh — tcp-server against a minimal std thread-per-connection server
# (bench/src/bin/std-hello-server.rs), in one run, with the same load, alternating
# A B / B A, repeated; prints medians (min-max) and ratios, and writes them as JSON.
#
#   bench/tcp.sh            # the full run (a few minutes)
#   bench/tcp.sh --quick    # small counts, to check the script itself (seconds)
#
# Workloads:
#   throughput  100 connections x 1000 lock-step round trips (tcp-client load mode)
#   memory      10,000 idle connections held, then one round trip on each (bench `hold`);
#               server RSS from /proc/PID/status
#   flood       20,000 connection attempts against tcp-server's default settings
#               (bench `flood`): does it survive, refuse the excess with a message, and
#               still serve the clients it holds? The std baseline gets the same flood.
#
# With two or more cores and `taskset`, the server runs on core 0 and the load on core 1,
# so they do not fight over one core: unpinned, the same binary varies by 20% from run to
# run on a shared 2-core machine; pinned, by 2-3%.
#
# Everything goes to loopback; every process the script starts, it stops (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=7        # throughput runs per server
MEM_ROUNDS=3    # memory runs per server
CONNS=100
COUNT=1000
IDLE=10000
FLOOD=20000
if [[ "${1:-}" == "--quick" ]]; then
    ROUNDS=2 MEM_ROUNDS=1 CONNS=10 COUNT=200 IDLE=300 FLOOD=2000
fi

echo "building release binaries..." >&2
cargo build --release --quiet -p tcp-server -p tcp-client -p bench
source bench/lib.sh
rm -f "$OUT"/tcp-*.json

SERVER_CPU=() CLIENT_CPU=()
if command -v taskset >/dev/null && (( $(nproc) >= 2 )); then
    SERVER_CPU=(taskset -c 0) CLIENT_CPU=(taskset -c 1)
fi

# start NAME [extra tcp-server args...]
start() {
    local name=$1; shift
    case $name in
        tcp-server) start_server "$name" "${SERVER_CPU[@]}" "$R/tcp-server" 127.0.0.1:0 --quiet "$@" ;;
        std) start_server "$name" "${SERVER_CPU[@]}" "$R/std-hello-server" 127.0.0.1:0 ;;
    esac
}

echo "throughput: $CONNS connections x $COUNT round trips, $ROUNDS runs each" >&2
for r in $(seq "$ROUNDS"); do
    for s in $(order "$r" std tcp-server); do
        start "$s"
        "${CLIENT_CPU[@]}" "$R/tcp-client" "$SERVER_ADDR" -q --connections "$CONNS" --count "$COUNT" --json \
            >"$OUT/tcp-tput-$s-$r.json"
        stop_server
    done
done

echo "memory: $IDLE idle connections, $MEM_ROUNDS runs each" >&2
for r in $(seq "$MEM_ROUNDS"); do
    for s in $(order "$r" std tcp-server); do
        start "$s" --max-connections $((IDLE + 100))
        "$R/hold" "$SERVER_ADDR" --connections "$IDLE" --server-pid "$SERVER_PID" >"$OUT/tcp-mem-$s-$r.json"
        stop_server
    done
done

echo "flood: $FLOOD connection attempts" >&2
for s in tcp-server std; do
    start "$s"   # tcp-server with its default settings (1024 connections)
    "$R/flood" "$SERVER_ADDR" --attempts "$FLOOD" --server-pid "$SERVER_PID" >"$OUT/tcp-flood-$s.json" || true
    stop_server
done

python3 - "$OUT" "$ROUNDS" "$MEM_ROUNDS" "$CONNS" "$COUNT" "$IDLE" "${#SERVER_CPU[@]}" <<'PY'
import json, statistics, sys, glob, os, platform
out, rounds, mem_rounds, conns, count, idle, pinned = sys.argv[1], *map(int, sys.argv[2:8])
def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, pattern)))]
def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}
result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"}
for s in ("tcp-server", "std"):
    t = load(f"tcp-tput-{s}-*.json")
    m = load(f"tcp-mem-{s}-*.json")
    result[s] = {
        "round_trips_per_sec": stats([x["round_trips_per_sec"] for x in t]),
        "latency_p99_us": stats([x["latency"]["p99_us"] for x in t]),
        "errors": sum(x["errors"] for x in t),
        "rss_mib_idle": stats([x["server_rss_kib_idle"] / 1024 for x in m]),
        "rss_mib_after_round_trips": stats([x["server_rss_kib_after_round_trips"] / 1024 for x in m]),
        "idle_held": min(x["held"] for x in m), "idle_answered": min(x["answered"] for x in m),
    }
    result[s]["flood"] = load(f"tcp-flood-{s}.json")[0] if load(f"tcp-flood-{s}.json") else None
a, b = result["tcp-server"], result["std"]
def row(name, key, unit, fmt="{:,.0f}"):
    x, y = a[key], b[key]
    r = x["median"] / y["median"] if y["median"] else float("nan")
    print(f"| {name} | {fmt.format(x['median'])} ({fmt.format(x['min'])}-{fmt.format(x['max'])}) {unit} "
          f"| {fmt.format(y['median'])} ({fmt.format(y['min'])}-{fmt.format(y['max'])}) {unit} | {r:.2f}x |")
print(f"\nmachine: {result['machine']}\n")
print("| workload | tcp-server --quiet | std baseline | ratio |")
print("|---|---|---|---|")
pin = ", server and load pinned to separate cores" if pinned else ""
row(f"round trips/s, {conns} conn x {count} ({rounds} runs{pin})", "round_trips_per_sec", "/s")
row("latency p99", "latency_p99_us", "us", "{:,.1f}")
row(f"server RSS, {idle:,} idle connections ({mem_rounds} runs)", "rss_mib_idle", "MiB", "{:,.1f}")
row("server RSS, after one round trip each", "rss_mib_after_round_trips", "MiB", "{:,.1f}")
print(f"\nerrors: tcp-server {a['errors']}, std {b['errors']}; idle connections held/answered: "
      f"tcp-server {a['idle_held']}/{a['idle_answered']}, std {b['idle_held']}/{b['idle_answered']}")
for s in ("tcp-server", "std"):
    f = result[s]["flood"]
    if f:
        print(f"flood of {f['attempts']:,} against {s}: greeted {f['greeted']:,}, refused with 'server busy' "
              f"{f['refused_busy_message']:,}, closed silently {f['closed_silently']:,}, connect failed "
              f"{f['connect_failed']:,}, other errors {f['other_errors']:,}; server alive after: "
              f"{f['server_alive_after']}; held connections still answered: {f['held_answered_after']:,}"
              + (f"; e.g. {f['error_examples'][0]}" if f['error_examples'] else ""))
json.dump(result, open(os.path.join(out, "tcp.json"), "w"), indent=2)
print(f"\n(JSON: {os.path.join(out, 'tcp.json')})")
PY
