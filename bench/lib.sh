# bench/lib.sh — helpers for bench/run.sh (sourced, not run).
#
# start_server NAME CMD...   starts CMD in its own process group (setsid), output in
#                            $OUT/NAME.out, waits for the line that gives its address
#                            ("listening on ADDR" or "on port N"); sets SERVER_PID, SERVER_ADDR.
# stop_server                stops that process group: the server and anything it forked
#                            (socat's `fork` children), and nothing else.
# wait_listening PORT        waits until something listens on TCP PORT (from /proc/net/tcp,
#                            without connecting to it: a one-shot server would take that
#                            connection as its client).
# wait_bound tcp|udp PORT    the same for either protocol (a UDP socket bound to PORT).
# record W S RUN VALUE       appends one measurement to $SAMPLES (workload, system, run).
# missing W S WHY            records that system S could not run workload W, and why.

R=target/release
OUT=target/bench
mkdir -p "$OUT"

SERVER_PID=""
SERVER_ADDR=""

start_server() {
    local name=$1; shift
    # setsid: a new session and process group whose id is the server's PID.
    setsid "$@" >"$OUT/$name.out" 2>&1 </dev/null &
    SERVER_PID=$!
    SERVER_ADDR=""
    for _ in $(seq 100); do
        # `|| true`: no match yet is not an error (the scripts run with set -e and pipefail).
        SERVER_ADDR=$(grep -o -m1 'listening on [^ ]*' "$OUT/$name.out" 2>/dev/null | cut -d' ' -f3 || true)
        if [[ -z "$SERVER_ADDR" ]]; then
            local port
            port=$(grep -o -m1 'on port [0-9]*' "$OUT/$name.out" 2>/dev/null | cut -d' ' -f3 || true)
            [[ -n "$port" ]] && SERVER_ADDR="127.0.0.1:$port"
        fi
        [[ -n "$SERVER_ADDR" ]] && return 0
        sleep 0.1
    done
    echo "$name did not start: $(cat "$OUT/$name.out")" >&2
    stop_server
    exit 1
}

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -- -"$SERVER_PID" 2>/dev/null || kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

trap stop_server EXIT

order() { if (( $1 % 2 )); then echo "$2 $3"; else echo "$3 $2"; fi; }

wait_listening() { wait_bound tcp "$1"; }

# wait_bound tcp|udp PORT    the same for a UDP socket bound to PORT (state 07, no peer).
wait_bound() {
    local hex state=0A
    [[ $1 == udp ]] && state=07
    hex=$(printf '%04X' "$2")
    for _ in $(seq 200); do
        # The peer field is all zeros: 8 hex digits in /proc/net/tcp, 32 in tcp6.
        grep -qE ":$hex 0+:0000 $state" "/proc/net/$1" "/proc/net/${1}6" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing is bound to $1 port $2 after 10 s" >&2
    return 1
}

SAMPLES="$OUT/samples.jsonl"
record() {
    # A measurement is a number: an empty or garbled value is a failed run, not a figure.
    if ! [[ $4 =~ ^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        echo "bench: $1, $2, run $3: no measurement (got '$4')" >&2
        exit 1
    fi
    printf '{"w":"%s","s":"%s","run":%s,"v":%s}\n' "$1" "$2" "$3" "$4" >>"$SAMPLES"
}
missing() { printf '{"w":"%s","s":"%s","missing":"%s"}\n' "$1" "$2" "$3" >>"$SAMPLES"; }

jget() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# A free local port of the given protocol (udp or tcp), for servers that cannot be given 0.
free_port() {
    python3 -c "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=='udp' else socket.SOCK_STREAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])" "$1"
}

# jget KEY < JSON            one top-level field of a JSON object.
# measure FILE CMD...        runs CMD, then writes "SECONDS PEAK_RSS_KIB CPU_SECONDS" to
#                            FILE: wall time, the peak resident memory of CMD itself (VmHWM,
#                            sampled every 5 ms: getrusage would also count the memory of the
#                            process that forked it, before exec), and the CPU time (user +
#                            system, all threads) CMD and its children used. CMD's exit
#                            status is kept.
# (The script is passed with -c, not on stdin: CMD's stdin is the caller's.)
MEASURE_PY='
import resource, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
peak = 0
while True:
    try:
        for line in open(f"/proc/{child.pid}/status"):
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    except OSError:
        pass
    if child.poll() is not None:
        break
    time.sleep(0.005)
seconds = time.perf_counter() - start
# The child is reaped: its CPU time (and that of anything it waited for) is in RUSAGE_CHILDREN,
# which holds only this one child.
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{seconds:.6f} {peak} {usage.ru_utime + usage.ru_stime:.3f}\n")
sys.exit(child.returncode)
'
measure() {
    local file=$1; shift
    python3 -c "$MEASURE_PY" "$file" "$@"
}

# peak_rss PID               the peak resident memory (KiB) of a running process so far.
# cpu_seconds PID            the CPU time (user + system, all its threads) of a running
#                            process so far, in seconds.
# Both fail (and say so) when the process is gone: there is nothing to measure, and a 0
# would pass for a figure.
peak_rss() {
    local v
    v=$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null) || true
    if [[ -z $v ]]; then
        echo "bench: process $1 is gone: its memory cannot be read" >&2
        return 1
    fi
    echo "$v"
}

cpu_seconds() {
    # Fields 14 and 15 of /proc/PID/stat, in clock ticks; the name (field 2) has no spaces here.
    local v
    v=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f\n", ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null) || true
    if [[ -z $v ]]; then
        echo "bench: process $1 is gone: its CPU time cannot be read" >&2
        return 1
    fi
    echo "$v"
}
