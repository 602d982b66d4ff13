#!/usr/bin/env bash
# bench/run.sh — every program of sockets-lab against what a user would otherwise use, in
# one run, on one machine: the same load for each, the systems alternating (A B C, B C A, …),
# a warm-up run and then the counted runs; one Markdown table (median, min–max, and how
# many times better ours is than each baseline) and the same as JSON, plus an SVG plot.
#
#   bench/run.sh --setup     # once: installs the baselines that are missing (apt)
#   bench/run.sh             # everything, 5 counted runs each (about 25 minutes on 2 cores)
#   bench/run.sh --quick     # fewer, smaller runs (under 2 minutes)
#   bench/run.sh --smoke     # the smallest runs, seconds: checks the benchmark itself (CI)
#   bench/run.sh --only tcp,udp    # some workloads (names below)
#   bench/run.sh --publish   # also write the book's figures: docs/src/figures/
#                            # performance.md, tcp-vs-udp.md, one-thread.md, tftp.md
#                            # and tftp-cable.md (each
#                            # only from a run that measured all of its figures; the
#                            # pages of those names include them), and the plot into
#                            # docs/src/images/ (in English and Chinese)
#
# Output: target/bench/report.md, report.json, tcp-connections.svg, and the raw samples
# (target/bench/samples.jsonl: one line per run).
#
# Workloads (--only names in brackets):
#   [tcp]      1 connection x 20,000 lock-step round trips (write a message, read its reply,
#              repeat), unpinned as a user runs it, and with server and client pinned to one
#              core: then each round trip costs exactly the CPU work of both sides, where
#              unpinned a VM mostly measures its wake-ups. tcp-server in both models
#              (--model thread, the default, and --model poll), the minimal std server
#              (bench/src/bin/std-hello-server.rs), socat TCP-LISTEN,fork PIPE and the
#              tutorial's tcp.py, all driven by one load tool (bench/src/bin/lockstep.rs).
#   [conns]    the same with 10 x 2,000, 100 x 1,000 and 1,000 x 100 connections x round
#              trips: round trips/s against connection count (the plot). The load comes
#              from one client thread with readiness events (lockstep --driver poll): a
#              thousand client threads would take as much of the two cores as the server.
#              socat only up to 100: it pauses about 0.1 s per forked connection, so 1,000
#              take minutes to open.
#   [idle]     10,000 idle connections held open, then a round trip on each: server RSS,
#              and bytes per idle connection (bench/src/bin/hold.rs). tcp-server in both
#              models, std, and the tutorial's server with asyncio (docs/python/
#              tcp_asyncio.py); not socat (10,000 processes). Then the most one process may
#              hold here (the hard open-file limit less 1,000, at most 19,000): tcp-server's
#              two models, peak RSS with a round trip on every connection. The thread model
#              only where vm.max_map_count allows that many threads (about 4 maps each;
#              past it the process is aborted): otherwise recorded as not run, and why.
#   [flood]    20,000 connection attempts at the default limits: does the server survive?
#              One run each, reported as notes (bench/src/bin/flood.rs).
#   [udp]      UDP lock-step round trips (udp-client --interval 0), one core and unpinned:
#              udp-server, udp-server --handler thread (the tutorial's design), udp.py, socat.
#   [rate]     the highest request rate answered with under 1% loss: udp-client rate mode,
#              1 s per step, 1k/s doubling with midpoints; after the warm-up sweep, each
#              sweep starts at a quarter of the warm-up's result.
#   [upload]   a 1 GiB file of random bytes over loopback into a file, end to end: upload
#              (SHA-256 both sides, fsync), nc, nc then sync, the tutorial's upload in
#              Python, iperf3 memory to memory (the loopback ceiling), and cat then sync
#              (a local copy made durable: the disk alone, no network). Peak RSS of each
#              side. Then upload, nc and Python again into a tmpfs (/dev/shm), where the
#              disk plays no part, with the CPU time both sides used: on a machine with
#              few cores, CPU seconds / cores is a floor under the time.
#   [resume]   the same file, a send broken off at 50% by a relay that cuts the connection
#              after exactly half (bench/src/bin/cut.rs), then resumed: the resumed send
#              alone (its server hashes the half it holds again, the sender hashes its own
#              half, then the rest goes), against a fresh send of the whole file
#              (bench/resume-side.sh). On loopback, and across the cable at 200 Mbit/s
#              with a 128 MiB file (quick 16, smoke 1): a link slower than the disk.
#   [folder]   a folder of 1,000 files of 4 KiB (11 folders; quick 200, smoke 20) over
#              loopback into a folder on disk: upload send DIR (SHA-256 both sides, two
#              fsyncs per file before its OK) against tar c | nc into nc -l | tar x (no
#              hash, no sync, no answer), and the fsync floor: the same files written,
#              synced and linked into place with no network (bench/folder-side.sh).
#   [sha256]   SHA-256 of the same 1 GiB file: `upload sum` against sha256sum and
#              `openssl dgst -sha256` (the hashing ceiling).
#   [cable]    the cable with no faults (cable run, two namespaces): iperf3's throughput
#              through it, against iperf3 over loopback (the kernel alone, the ceiling);
#              and the median round trip of udp-client (one datagram each way every ms)
#              through it and over loopback: half the difference (a round trip crosses
#              the cable twice) is what the cable adds to each packet.
#              Linux only; recorded as not run, and why, where namespaces are refused.
#   [tcpudp]   "TCP is slow, UDP is fast", across the cable at RTT 0, 20 and 100 ms × loss
#              0, 1 and 5% each way: lock-step round trips of tcp-client and udp-client
#              (UDP's lost requests cost it a timeout of 2 RTTs, at least 50 ms); a 10 MiB
#              upload; and udp-client's rate mode at the rate the upload achieved, 1,400-
#              byte datagrams, for as long as the upload took (at most 5 s): the share
#              answered (a round trip: the request and the reply each cross the loss).
#              3 runs (quick: 1, 2 MiB; smoke: 3 cells, 256 KiB). The book's matrix.
#   [tftp]     a 100 MiB get over loopback into a tmpfs (or the disk if there is none):
#              every pair of server (tftp serve, atftpd, tftpd-hpa's in.tftpd, as root)
#              and client (tftp get, curl, tftp-hpa's tftp, atftp), checked by SHA-256;
#              at RFC 1350's 512-byte blocks one at a time, and at the best options each
#              pair agrees on (blksize 65464, windowsize 64 where both take it; tftp-hpa's
#              client has no options). MB/s; 3 runs (quick: 16 MiB, 1 run; smoke: 1 MiB).
#   [tftpcable] TFTP across the cable at RTT 20 and 100 ms × loss 0, 1 and 5% each way:
#              512-byte blocks one at a time (RFC 1350: one block per round trip, so
#              512 B / RTT at best), blksize 1428, and blksize 1428 with windowsize 16;
#              against upload over TCP on the same cable. Each file sized to take a few
#              seconds. MB/s; 3 runs (quick and smoke: 1, smoke 2 cells). The lesson's table.
#   [startup]  exec to exit of each binary's --version, against python3 -c 'import socket'
#              (what each of the tutorial's programs pays before its first line) and socat -V.
#
# Every load goes to loopback and ends by itself; every process the script starts, it
# stops (by its process group id, never by name).
set -euo pipefail
# Inside $(...) too: without it, a failing command in a function called as $(f) goes on,
# and an empty or made-up value would be recorded as a measurement.
shopt -s inherit_errexit
# And say what failed, where: a failed run of a program under test ends the benchmark.
set -o errtrace
trap 'echo "bench: failed (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
COMMAND_LINE=$(echo "bench/run.sh $*" | sed "s/ *$//")

MODE=full ONLY=all PUBLISH=0
while (($#)); do
    case $1 in
        --quick) MODE=quick ;;
        --smoke) MODE=smoke ;;
        --publish) PUBLISH=1 ;;
        --only) ONLY=${2:?--only needs a list, e.g. tcp,udp}; shift ;;
        --setup)
            # The baselines, from Debian's packages; coreutils (sha256sum) is always there.
            SUDO=""
            [[ $(id -u) -ne 0 ]] && SUDO=sudo
            $SUDO apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
                netcat-openbsd socat python3 iperf3 openssl util-linux
            exit 0
            ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

# ---- sizes for each mode ----------------------------------------------------------------
RUNS=5 WARMUP=1                      # counted runs, uncounted warm-up runs
TCP_COUNT=20000                      # round trips of the 1-connection lock-step
CONNS=(10 100 1000) CONN_COUNTS=(2000 1000 100)
SOCAT_MAX_CONNS=100
IDLE=10000 FLOOD=20000
# The most connections one process may hold: hard open-file limit less room for the rest.
HARD_FILES=$(ulimit -Hn)
[[ $HARD_FILES == unlimited ]] && HARD_FILES=1048576
IDLE_MAX=$((HARD_FILES - 1000))
((IDLE_MAX > 19000)) && IDLE_MAX=19000
UDP_COUNT=20000
SWEEP_START=1000 SWEEP_MAX=1024000 STEP_SECONDS=1
RATE_RUNS=5                          # counted sweeps (each takes 5-20 s)
FILE_MIB=1024
STARTUP_EXECS=20                     # execs per start-up run
CABLE_SECONDS=5 CABLE_PINGS=2000     # iperf3's seconds, and udp-client's round trips (1 per ms)
TFTP_RUNS=3 TFTP_MIB=100
RESUME_CABLE_MIB=128 RESUME_CABLE_RATE=200mbit  # resume across the cable: a link slower than the disk
FOLDER_FILES=1000 FOLDER_KIB=4       # the folder workload's small files
TFTPCABLE_RUNS=3 TFTPCABLE_CELLS="20:0 20:1 20:5 100:0 100:1 100:5" TFTPCABLE_SECONDS=3
TCPUDP_RUNS=3 TCPUDP_MIB=10 TCPUDP_CELLS="0:0 0:1 0:5 20:0 20:1 20:5 100:0 100:1 100:5"  # RTT ms:loss %
case $MODE in
    quick)
        RUNS=3 WARMUP=0 TCP_COUNT=5000 CONNS=(10 100) CONN_COUNTS=(500 100) SOCAT_MAX_CONNS=10
        IDLE=1000 IDLE_MAX=2000 FLOOD=2000 UDP_COUNT=5000 STEP_SECONDS=0.3 RATE_RUNS=1 FILE_MIB=64 STARTUP_EXECS=5 RESUME_CABLE_MIB=16 FOLDER_FILES=200
        CABLE_SECONDS=2 CABLE_PINGS=500 TCPUDP_RUNS=1 TCPUDP_MIB=2 TFTP_RUNS=1 TFTP_MIB=16 TFTPCABLE_RUNS=1
        ;;
    smoke)
        RUNS=1 WARMUP=0 TCP_COUNT=200 CONNS=(10) CONN_COUNTS=(20) SOCAT_MAX_CONNS=10
        IDLE=100 IDLE_MAX=200 FLOOD=300 UDP_COUNT=200 SWEEP_START=500 SWEEP_MAX=500 STEP_SECONDS=0.3 RATE_RUNS=1
        FILE_MIB=4 STARTUP_EXECS=2 CABLE_SECONDS=1 CABLE_PINGS=100 RESUME_CABLE_MIB=1 FOLDER_FILES=20
        TCPUDP_RUNS=1 TCPUDP_MIB=0.25 TCPUDP_CELLS="0:0 20:1 100:5" TFTP_RUNS=1 TFTP_MIB=1 TFTPCABLE_RUNS=1 TFTPCABLE_CELLS="20:1" TFTPCABLE_SECONDS=0.3
        ;;
esac
PAYLOAD=16                           # bytes per TCP message, the line end included

echo "building release binaries..." >&2
cargo build --release --quiet -p tcp-server -p tcp-client -p udp-server -p udp-client -p upload -p tftp -p cable -p bench
source bench/lib.sh
rm -f "$SAMPLES" "$OUT"/flood-*.json "$OUT"/report.* "$OUT"/tcp-connections.svg
STARTED=$(date +%s)
TIMINGS=()

have() { command -v "$1" >/dev/null 2>&1; }
wanted() { [[ $ONLY == all || ,$ONLY, == *,$1,* ]]; }
# rotated RUN SYSTEM...: the systems, starting from a different one each run.
rotated() {
    local r=$1; shift
    local n=$# i
    local all=("$@")
    for ((i = 0; i < n; i++)); do echo "${all[$(((i + r) % n))]}"; done
}
# runs: the run numbers, warm-ups first (negative, not counted).
runs() { seq $((1 - WARMUP)) "$RUNS"; }
# counted RUN: whether a run counts.
counted() { (($1 >= 1)); }
ONE_CORE=()
if have taskset; then ONE_CORE=(taskset -c 0); fi
timed() { # timed NAME FUNCTION: runs a workload and notes how long it took
    local t0=$SECONDS
    echo "== $1" >&2
    "$2"
    TIMINGS+=("\"$1\": $((SECONDS - t0))")
}

# ---- TCP -------------------------------------------------------------------------------
TCP_SYSTEMS=(tcp-server tcp-server-poll std socat python)
available() {
    case $1 in
        socat) have socat ;;
        python | asyncio) have python3 ;;
        *) true ;;
    esac
}
# start_tcp SYSTEM [CPU-PINNING...]
start_tcp() {
    local s=$1; shift
    case $s in
        # Every load comes from 127.0.0.1, which the per-address limit leaves alone by
        # default: these are the defaults' figures.
        tcp-server) start_server "$s" "$@" "$R/tcp-server" 127.0.0.1:0 --quiet --max-connections $((IDLE_MAX + 1000)) ;;
        tcp-server-poll) start_server "$s" "$@" "$R/tcp-server" 127.0.0.1:0 --model poll --quiet --max-connections $((IDLE_MAX + 1000)) ;;
        std) start_server "$s" "$@" "$R/std-hello-server" 127.0.0.1:0 ;;
        python) start_server "$s" "$@" python3 -u docs/python/tcp.py 0 ;;
        # Python's soft open-file limit stays at 1,024 unless raised: as a student would.
        asyncio) start_server "$s" "$@" sh -c 'ulimit -n "$(ulimit -Hn)"; exec python3 -u docs/python/tcp_asyncio.py 0' ;;
        socat)
            local port
            port=$(free_port tcp)
            start_server "$s" "$@" sh -c "echo 'socat on port $port'; exec socat TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr PIPE"
            wait_listening "$port"
            ;;
    esac
}
# The bytes each server greets with and answers a PAYLOAD-byte message with.
lockstep_args() {
    case $1 in
        tcp-server | tcp-server-poll | std | asyncio) echo "--greeting-bytes 7 --reply-bytes $((6 + PAYLOAD))" ;;  # Hello!\n, hello,<msg>\n
        python) echo "--greeting-bytes 6 --reply-bytes $((9 + PAYLOAD)) --no-newline" ;; # Hello!, hello,b'<msg>'
        socat) echo "--reply-bytes $PAYLOAD" ;;                                          # an echo
    esac
}
# lockstep W SYSTEM RUN CONNECTIONS COUNT [CPU-PINNING...]
lockstep() {
    local w=$1 s=$2 r=$3 conns=$4 count=$5; shift 5
    local json driver=threads
    # Many connections: one client thread for all of them (see [conns] above).
    ((conns > 1)) && driver=poll
    start_tcp "$s" "$@"
    # shellcheck disable=SC2046
    json=$("$@" "$R/lockstep" "$SERVER_ADDR" --connections "$conns" --count "$count" --payload "$PAYLOAD" --driver "$driver" $(lockstep_args "$s")) ||
        { echo "$s: lockstep failed: $json" >&2; stop_server; exit 1; }
    stop_server
    if counted "$r"; then record "$w" "$s" "$r" "$(jget round_trips_per_sec <<<"$json")"; fi
    return 0
}

tcp_workload() {
    for s in "${TCP_SYSTEMS[@]}"; do
        available "$s" && continue
        missing tcp-rt-1 "$s" "not installed"; missing tcp-rt-1-core "$s" "not installed"
    done
    if ((${#ONE_CORE[@]} == 0)); then
        for s in "${TCP_SYSTEMS[@]}"; do missing tcp-rt-1-core "$s" "taskset not installed"; done
    fi
    for r in $(runs); do
        for s in $(rotated "$r" "${TCP_SYSTEMS[@]}"); do
            available "$s" || continue
            lockstep tcp-rt-1 "$s" "$r" 1 "$TCP_COUNT"
            if ((${#ONE_CORE[@]})); then lockstep tcp-rt-1-core "$s" "$r" 1 "$TCP_COUNT" "${ONE_CORE[@]}"; fi
        done
    done
}

conns_workload() {
    local i
    for i in "${!CONNS[@]}"; do
        local c=${CONNS[$i]} n=${CONN_COUNTS[$i]}
        for r in $(runs); do
            for s in $(rotated "$r" "${TCP_SYSTEMS[@]}"); do
                if ! available "$s"; then
                    if ((r == RUNS)); then missing "tcp-rt-$c" "$s" "not installed"; fi
                    continue
                fi
                if [[ $s == socat ]] && ((c > SOCAT_MAX_CONNS)); then
                    if ((r == RUNS)); then missing "tcp-rt-$c" "$s" "not run: socat opens about 10 connections a second"; fi
                    continue
                fi
                lockstep "tcp-rt-$c" "$s" "$r" "$c" "$n"
            done
        done
    done
}

# hold SYSTEM CONNECTIONS: holds that many idle connections to a fresh server, then a round
# trip on each; prints hold's JSON. Every connection must be answered.
hold() {
    local s=$1 n=$2 json
    # Called as $(hold ...): a subshell, which does not run the script's EXIT trap. A
    # failure here must still stop the server it started.
    trap stop_server EXIT
    start_tcp "$s"
    # SERVER_PID is the server itself (asyncio's sh exec's python: the same PID).
    if ! json=$("$R/hold" "$SERVER_ADDR" --connections "$n" --server-pid "$SERVER_PID"); then
        echo "$s: hold failed with $n idle connections" >&2
        exit 1
    fi
    stop_server
    if (($(jget answered <<<"$json") != n)); then
        echo "$s: not every one of $n idle connections was answered: $json" >&2
        exit 1
    fi
    echo "$json"
}

IDLE_SYSTEMS=(tcp-server tcp-server-poll std asyncio)
# A thread costs about 4 memory maps (stack, guard page, signal stack and its guard); the
# kernel aborts a process that asks for more than vm.max_map_count.
MAPS_PER_THREAD=4
idle_workload() {
    for s in "${IDLE_SYSTEMS[@]}"; do
        available "$s" && continue
        missing tcp-idle-rss "$s" "not installed"; missing tcp-idle-bytes "$s" "not installed"
    done
    local max_systems=(tcp-server-poll tcp-server) maps
    maps=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
    if ((maps > 0 && IDLE_MAX * MAPS_PER_THREAD > maps)); then
        max_systems=(tcp-server-poll)
        local why="not run: $IDLE_MAX threads need about $((IDLE_MAX * MAPS_PER_THREAD)) memory maps, more than vm.max_map_count ($maps) allows; the process would be aborted at about $((maps / MAPS_PER_THREAD)) connections"
        missing tcp-idle-max-rss tcp-server "$why"; missing tcp-idle-max-bytes tcp-server "$why"
    fi
    for r in $(runs); do
        for s in $(rotated "$r" "${IDLE_SYSTEMS[@]}"); do
            available "$s" || continue
            local json
            json=$(hold "$s" "$IDLE")
            if counted "$r"; then
                record tcp-idle-rss "$s" "$r" "$(jget server_rss_kib_idle <<<"$json")"
                record tcp-idle-bytes "$s" "$r" "$(jget server_bytes_per_idle_connection <<<"$json")"
            fi
        done
        # The most one process may hold, with a round trip on every connection at the end.
        for s in $(rotated "$r" "${max_systems[@]}"); do
            local json
            json=$(hold "$s" "$IDLE_MAX")
            if counted "$r"; then
                record tcp-idle-max-rss "$s" "$r" "$(jget server_peak_rss_kib <<<"$json")"
                record tcp-idle-max-bytes "$s" "$r" "$(jget server_bytes_per_idle_connection <<<"$json")"
            fi
        done
    done
}

flood_workload() {
    for s in tcp-server std; do
        # tcp-server with its defaults: the connection limit (1,024). The flood comes from
        # 127.0.0.1, which --max-per-peer leaves alone by default, so the flood measures
        # the connection limit and the exhaustion of descriptors.
        case $s in
            tcp-server) start_server "$s" "$R/tcp-server" 127.0.0.1:0 --quiet ;;
            std) start_tcp std ;;
        esac
        # The flood tool reports a server that dies; the tool itself must not fail.
        if ! "$R/flood" "$SERVER_ADDR" --attempts "$FLOOD" --server-pid "$SERVER_PID" >"$OUT/flood-$s.json"; then
            echo "bench: the flood tool failed against $s" >&2
            exit 1
        fi
        stop_server
    done
}

# ---- UDP -------------------------------------------------------------------------------
UDP_SYSTEMS=(udp-server udp-server-thread python socat)
# start_udp SYSTEM [CPU-PINNING...]
start_udp() {
    local s=$1; shift
    case $s in
        # All the load comes from 127.0.0.1, which the rate limit leaves alone by default.
        udp-server) start_server "$s" "$@" "$R/udp-server" 127.0.0.1:0 --quiet ;;
        udp-server-thread) start_server "$s" "$@" "$R/udp-server" 127.0.0.1:0 --quiet --handler thread ;;
        python) start_server "$s" "$@" python3 -u docs/python/udp.py 0 ;;
        socat)
            local port
            port=$(free_port udp)
            start_server "$s" "$@" sh -c "echo 'socat on port $port'; exec socat UDP-LISTEN:$port,bind=127.0.0.1,fork PIPE"
            wait_bound udp "$port"
            ;;
    esac
}

udp_workload() {
    for s in "${UDP_SYSTEMS[@]}"; do
        available "$s" && continue
        missing udp-rt "$s" "not installed"; missing udp-rt-core "$s" "not installed"
    done
    if ((${#ONE_CORE[@]} == 0)); then
        for s in "${UDP_SYSTEMS[@]}"; do missing udp-rt-core "$s" "taskset not installed"; done
    fi
    for r in $(runs); do
        for s in $(rotated "$r" "${UDP_SYSTEMS[@]}"); do
            available "$s" || continue
            for w in udp-rt udp-rt-core; do
                local cpu=()
                if [[ $w == udp-rt-core ]]; then
                    ((${#ONE_CORE[@]})) || continue
                    cpu=("${ONE_CORE[@]}")
                fi
                start_udp "$s" "${cpu[@]}"
                local json
                json=$("${cpu[@]}" "$R/udp-client" "$SERVER_ADDR" -q --count "$UDP_COUNT" --interval 0 --timeout 0.2 --json)
                stop_server
                if counted "$r"; then record "$w" "$s" "$r" "$(jget round_trips_per_sec <<<"$json")"; fi
            done
        done
    done
}

# sweep SYSTEM FROM: prints the highest rate (requests/s) answered with under 1% loss.
# One server for the whole sweep: a step it passes leaves nothing queued for the next.
sweep() {
    local s=$1 rate=$2 best=0
    # Called as $(sweep ...): see hold().
    trap stop_server EXIT
    start_udp "$s"
    while ((rate <= SWEEP_MAX)); do
        # The step and its midpoint to the next (x1.41): a finer answer for the same time.
        local step
        for step in "$rate" $((rate * 141 / 100)); do
            ((step <= SWEEP_MAX)) || break
            local passed=0 try loss
            # A step that fails is tried once more, on a fresh server: one hiccup of a
            # shared machine should not end a sweep.
            for try in 1 2; do
                if ((try == 2)); then stop_server; start_udp "$s"; fi
                local report
                if ! report=$("$R/udp-client" "$SERVER_ADDR" -q --rate "$step" --duration "$STEP_SECONDS" --timeout 0.5 --json); then
                    echo "$s: udp-client failed at $step/s" >&2
                    exit 1
                fi
                loss=$(jget lost_percent <<<"$report")
                if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)" "$loss"; then
                    passed=1
                    break
                fi
            done
            if ((!passed)); then
                stop_server
                echo "$best"
                return
            fi
            best=$step
        done
        rate=$((rate * 2))
    done
    stop_server
    echo "$best"
}

rate_workload() {
    for s in "${UDP_SYSTEMS[@]}"; do
        available "$s" || { missing udp-rate "$s" "not installed"; continue; }
        local first=$SWEEP_START best
        if ((WARMUP)); then
            best=$(sweep "$s" "$SWEEP_START")
            echo "  $s: warm-up sweep: $best/s" >&2
            # Start the counted sweeps at the largest power-of-two step at most a quarter of it.
            while ((first * 2 <= best / 4)); do first=$((first * 2)); done
        fi
        for r in $(seq "$RATE_RUNS"); do
            best=$(sweep "$s" "$first")
            echo "  $s: sweep $r: $best/s" >&2
            record udp-rate "$s" "$r" "$best"
        done
    done
}

# ---- files: upload and SHA-256 ---------------------------------------------------------
SRC="$OUT/random-${FILE_MIB}m.bin"
make_file() {
    if [[ ! -f "$SRC" ]] || (($(stat -c %s "$SRC") != FILE_MIB * 1048576)); then
        echo "making $SRC ($FILE_MIB MiB of random bytes)..." >&2
        head -c $((FILE_MIB * 1048576)) /dev/urandom >"$SRC"
    fi
}
# Two destinations for the received file. "disk": the file system this repository is on,
# where a durable write costs what the disk costs. "ram": a tmpfs (/dev/shm), where fsync
# has nothing to do, so what is left is the transfer itself: the network, the copies and
# the hashing, which all compete for the same CPU cores.
RAM_DIR=/dev/shm/sockets-lab-bench-$$
ram_available() {
    [[ -d /dev/shm && $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] &&
        (($(df -k --output=avail /dev/shm | tail -1) > FILE_MIB * 1024 * 2))
}
trap 'stop_server; rm -rf "$RAM_DIR"' EXIT
recv_dir() { if [[ $1 == ram ]]; then echo "$RAM_DIR"; else echo "$OUT/upload-recv"; fi; }
# What runs where: iperf3 never touches a file, and cat+sync (a plain copy made durable, no
# network) shows what the disk alone takes to store the file.
UPLOAD_SYSTEMS_DISK=(upload nc nc+sync cat+sync python iperf3)
UPLOAD_SYSTEMS_RAM=(upload nc python)
file_available() {
    case $1 in
        nc | nc+sync) have nc ;;
        python) have python3 ;;
        iperf3) have iperf3 ;;
        sha256sum) have sha256sum ;;
        openssl) have openssl ;;
        *) true ;;
    esac
}

# server_usage: the running server's peak RSS (KiB) and CPU seconds so far, into
# recv_rss and recv_cpu (locals of the transfer that calls it).
server_usage() {
    recv_rss=$(peak_rss "$SERVER_PID")
    recv_cpu=$(cpu_seconds "$SERVER_PID")
}

# transfer DEST SYSTEM RUN: one transfer into DEST (disk or ram); records the seconds, the
# CPU seconds of both sides together, and (disk) each side's peak RSS in KiB.
transfer() {
    local dest=$1 s=$2 r=$3 res="$OUT/transfer" received="" recv_rss recv_cpu=0 recv
    recv=$(recv_dir "$dest")
    rm -rf "$recv" && mkdir -p "$recv"
    # Write back the last run's file first, so it does not slow this one.
    sync
    case $s in
        upload)
            start_server upload "$R/upload" serve 127.0.0.1:0 --dir "$recv" --quiet --max-size 8GiB --keep-free 0
            measure "$res.send" "$R/upload" send "$SRC" --to "$SERVER_ADDR" --quiet >/dev/null
            server_usage
            stop_server
            received="$recv/$(basename "$SRC")"
            ;;
        nc | nc+sync)
            local port rpid
            port=$(free_port tcp)
            received="$recv/out.bin"
            # -d: the receiver does not read its stdin, so it exits when the sender closes.
            measure "$res.recv" nc -d -l 127.0.0.1 "$port" >"$received" </dev/null &
            rpid=$!
            wait_listening "$port"
            if [[ $s == nc ]]; then
                measure "$res.send" nc -N 127.0.0.1 "$port" <"$SRC"
            else
                measure "$res.send" sh -c "nc -N 127.0.0.1 $port < '$SRC' && sync '$received'"
            fi
            wait "$rpid"
            recv_rss=$(cut -d' ' -f2 "$res.recv")
            recv_cpu=$(cut -d' ' -f3 "$res.recv")
            ;;
        cat+sync)
            received="$recv/out.bin"
            measure "$res.send" sh -c "cat '$SRC' > '$received' && sync '$received'"
            recv_rss=0
            ;;
        python)
            start_server python sh -c "cd '$recv' && exec python3 -u '$PWD/docs/python/upload.py' 0"
            measure "$res.send" python3 docs/python/upload_user.py "${SERVER_ADDR##*:}" "$SRC" >/dev/null
            # The tutorial's server says "done" before it closes the file: give it a moment.
            sleep 0.2
            server_usage
            stop_server
            received="$recv/recv_yan.jpg"
            ;;
        iperf3)
            local port
            port=$(free_port tcp)
            start_server iperf3 sh -c "echo 'iperf3 on port $port'; exec iperf3 -s -B 127.0.0.1 -p $port"
            wait_listening "$port"
            measure "$res.send" iperf3 -c 127.0.0.1 -p "$port" -n "$((FILE_MIB))M" >/dev/null
            server_usage
            stop_server
            ;;
    esac
    if [[ -n $received ]]; then
        local got
        got=$(stat -c %s "$received" 2>/dev/null || echo 0)
        if ((got != FILE_MIB * 1048576)); then
            echo "$s: received $got bytes, expected $((FILE_MIB * 1048576))" >&2
            exit 1
        fi
        # Byte for byte, on the first run (the digests already prove it for upload).
        if ((r <= 1)); then cmp -s "$SRC" "$received" || { echo "$s: the received file differs" >&2; exit 1; }; fi
    fi
    local seconds send_rss send_cpu
    read -r seconds send_rss send_cpu <"$res.send"
    if counted "$r"; then
        if [[ $dest == disk ]]; then
            record upload-time "$s" "$r" "$seconds"
            if [[ $s != cat+sync ]]; then
                record upload-rss-send "$s" "$r" "$send_rss"
                record upload-rss-recv "$s" "$r" "$recv_rss"
            fi
        else
            record upload-time-ram "$s" "$r" "$seconds"
            record upload-cpu-ram "$s" "$r" "$(awk -v a="$send_cpu" -v b="$recv_cpu" 'BEGIN { printf "%.3f", a + b }')"
        fi
    fi
    echo "  $s to $dest, run $r: $seconds s" >&2
    rm -rf "$res.send" "$res.recv" "$recv"
}

upload_workload() {
    make_file
    local s w
    for s in "${UPLOAD_SYSTEMS_DISK[@]}"; do
        file_available "$s" && continue
        for w in upload-time upload-rss-send upload-rss-recv upload-time-ram upload-cpu-ram; do
            missing "$w" "$s" "not installed"
        done
    done
    local ram=1
    if ! ram_available; then
        ram=0
        for s in "${UPLOAD_SYSTEMS_RAM[@]}"; do
            missing upload-time-ram "$s" "no tmpfs at /dev/shm with room for 2 files"
            missing upload-cpu-ram "$s" "no tmpfs at /dev/shm with room for 2 files"
        done
    fi
    for r in $(runs); do
        for s in $(rotated "$r" "${UPLOAD_SYSTEMS_DISK[@]}"); do
            if file_available "$s"; then transfer disk "$s" "$r"; fi
        done
        ((ram)) || continue
        for s in $(rotated "$r" "${UPLOAD_SYSTEMS_RAM[@]}"); do
            if file_available "$s"; then transfer ram "$s" "$r"; fi
        done
    done
}

# resume_send WHERE SYSTEM RUN: one send of the file into a folder on disk, on loopback or
# across the cable, fresh or resumed at 50% (bench/resume-side.sh); the file that arrived
# is checked byte for byte.
resume_send() {
    local where=$1 s=$2 r=$3 store="$OUT/resume-recv" file=$SRC seconds
    rm -rf "$store" && mkdir -p "$store"
    if [[ $where == loopback ]]; then
        start_server upload "$R/upload" serve 127.0.0.1:0 --dir "$store" --quiet --max-size 8GiB --keep-free 0
        seconds=$(bench/resume-side.sh "$s" "$R" "$SERVER_ADDR" "$file" "$store")
        stop_server
        counted "$r" && record upload-resume "$s" "$r" "$seconds"
    else
        file=$RESUME_CABLE_SRC
        seconds=$("$R/cable" run --rate "$RESUME_CABLE_RATE" \
            --left "$R/upload serve \$LEFT:9000 --dir $store --quiet --no-progress --max-size 8GiB --keep-free 0 >/dev/null" \
            --right "bench/resume-side.sh $s $R \$LEFT:9000 $file $store" 2>/dev/null)
        counted "$r" && record upload-resume-cable "$s" "$r" "$seconds"
    fi
    cmp -s "$file" "$store/$(basename "$file")" || { echo "resume: the $s file differs ($where)" >&2; exit 1; }
    echo "  resume on $where: $s, run $r: $seconds s" >&2
    rm -rf "$store"
}

resume_workload() {
    make_file
    local why
    why=$(cable_refusal)
    if [[ -z $why ]]; then
        RESUME_CABLE_SRC="$OUT/random-${RESUME_CABLE_MIB}m.bin"
        head -c "$(python3 -c "print(int($RESUME_CABLE_MIB * 1048576))")" "$SRC" >"$RESUME_CABLE_SRC"
    else
        for s in resumed fresh; do missing upload-resume-cable "$s" "$why"; done
    fi
    for r in $(runs); do
        for s in $(rotated "$r" resumed fresh); do
            resume_send loopback "$s" "$r"
            [[ -z $why ]] && resume_send cable "$s" "$r"
        done
    done
    rm -f "$RESUME_CABLE_SRC"
}

# The folder workload: FOLDER_FILES files of FOLDER_KIB KiB of random bytes, in 10 folders,
# sent by each system in turn into an empty folder on disk.
folder_workload() {
    local tree="$OUT/folder-src/tree" store="$OUT/folder-recv" i s seconds
    rm -rf "$OUT/folder-src" && mkdir -p "$tree"
    for ((i = 0; i < FOLDER_FILES; i++)); do
        mkdir -p "$tree/d$((i % 10))"
        head -c $((FOLDER_KIB * 1024)) /dev/urandom >"$tree/d$((i % 10))/f$i.bin"
    done
    local nc=1
    have nc || { nc=0; missing upload-folder tar+nc "nc is not installed"; }
    for r in $(runs); do
        for s in $(rotated "$r" upload tar+nc fsync-floor); do
            [[ $s == tar+nc ]] && ((nc == 0)) && continue
            rm -rf "$store" && mkdir -p "$store"
            seconds=$(bench/folder-side.sh "$s" "$R" "$tree" "$store")
            counted "$r" && record upload-folder "$s" "$r" "$seconds"
            echo "  folder: $s, run $r: $seconds s" >&2
        done
    done
    rm -rf "$store" "$OUT/folder-src"
}

sha256_workload() {
    make_file
    local expected
    expected=$("$R/upload" sum "$SRC" | cut -d' ' -f1)
    for s in sha256sum openssl; do
        if ! file_available "$s"; then missing sha256-time "$s" "not installed"; fi
    done
    for r in $(runs); do
        for s in $(rotated "$r" upload-sum sha256sum openssl); do
            file_available "$s" || continue
            local cmd
            case $s in
                upload-sum) cmd=("$R/upload" sum "$SRC") ;;
                sha256sum) cmd=(sha256sum "$SRC") ;;
                openssl) cmd=(openssl dgst -sha256 -r "$SRC") ;;
            esac
            measure "$OUT/sha" "${cmd[@]}" >"$OUT/sha.out"
            # All three must agree on the digest.
            grep -q "^$expected" "$OUT/sha.out" || { echo "$s: wrong digest: $(cat "$OUT/sha.out")" >&2; exit 1; }
            if counted "$r"; then record sha256-time "$s" "$r" "$(cut -d' ' -f1 "$OUT/sha")"; fi
        done
    done
    rm -f "$OUT/sha" "$OUT/sha.out"
}

# ---- the cable ---------------------------------------------------------------------------
CABLE_SYSTEMS=(cable loopback)
# mbit_s < iperf3-JSON: what the receiver got, in Mbit/s.
mbit_s() { python3 -c "import json,sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'] / 1e6)"; }
# p50_us < udp-client-JSON: the median round trip, in µs.
p50_us() { python3 -c "import json,sys; print(json.load(sys.stdin)['rtt_ms']['p50'] * 1000)"; }
cable_workload() {
    local why=""
    if [[ $(uname) != Linux ]]; then
        why="Linux only"
    elif ! have iperf3; then
        why="iperf3 not installed"
    elif ! "$R/cable" run --start-after 0 --left true --right true >/dev/null 2>"$OUT/cable-probe.out"; then
        why="the cable cannot run here: $(grep -m1 'cannot' "$OUT/cable-probe.out" || echo refused)"
    fi
    if [[ -n $why ]]; then
        for s in "${CABLE_SYSTEMS[@]}"; do missing cable-mbps "$s" "$why"; missing cable-rtt "$s" "$why"; done
        return
    fi
    local -A rtt
    for r in $(runs); do
        for s in $(rotated "$r" "${CABLE_SYSTEMS[@]}"); do
            local mbps us
            case $s in
                cable)
                    # The servers' own output would mix with the client's JSON on stdout.
                    mbps=$("$R/cable" run --left 'iperf3 -s -1 -B $LEFT >/dev/null' \
                        --right "iperf3 -c \$LEFT -t $CABLE_SECONDS -J" 2>/dev/null | mbit_s)
                    us=$("$R/cable" run --left "$R/udp-server \$LEFT:7777 --quiet >/dev/null" \
                        --right "$R/udp-client \$LEFT:7777 -q --count $CABLE_PINGS --interval 1 --json" 2>/dev/null | p50_us)
                    ;;
                loopback)
                    local port
                    port=$(free_port tcp)
                    start_server iperf3 sh -c "echo 'iperf3 on port $port'; exec iperf3 -s -1 -B 127.0.0.1 -p $port"
                    wait_listening "$port"
                    mbps=$(iperf3 -c 127.0.0.1 -p "$port" -t "$CABLE_SECONDS" -J | mbit_s)
                    stop_server
                    start_udp udp-server
                    us=$("$R/udp-client" "$SERVER_ADDR" -q --count "$CABLE_PINGS" --interval 1 --json | p50_us)
                    stop_server
                    ;;
            esac
            if counted "$r"; then
                record cable-mbps "$s" "$r" "$mbps"
                record cable-rtt "$s" "$r" "$us"
            fi
            rtt[$s]=$us
        done
        # What the cable adds to each packet: a round trip crosses it twice.
        if counted "$r"; then
            record cable-added "cable" "$r" "$(python3 -c "import sys; print((float(sys.argv[1]) - float(sys.argv[2])) / 2)" "${rtt[cable]}" "${rtt[loopback]}")"
        fi
    done
}

# cable_refusal: why the cable cannot run here, or nothing when it can.
cable_refusal() {
    if [[ $(uname) != Linux ]]; then
        echo "Linux only"
    elif ! "$R/cable" run --start-after 0 --left true --right true >/dev/null 2>"$OUT/cable-probe.out"; then
        echo "the cable cannot run here: $(grep -m1 'cannot' "$OUT/cable-probe.out" || echo refused)"
    fi
}

# ---- TCP against UDP across the cable ------------------------------------------------------
# One cable run per cell: tcp-server, udp-server (no rate limit: the load is the point)
# and upload serve on the left; on the right, the four measurements one after another,
# each printing one JSON line.
tcpudp_workload() {
    local why
    why=$(cable_refusal)
    if [[ -n $why ]]; then
        for c in $TCPUDP_CELLS; do missing tcpudp "$c" "$why"; done
        return
    fi
    local file="$OUT/tcpudp.bin" store="$OUT/tcpudp-store"
    head -c "$(python3 -c "print(int($TCPUDP_MIB * 1048576))")" /dev/urandom >"$file"
    local r
    for r in $(seq 1 "$TCPUDP_RUNS"); do
        local cell
        for cell in $TCPUDP_CELLS; do
            local rtt=${cell%%:*} loss=${cell##*:}
            local n timeout
            n=$(python3 -c "print(max(20, min(2000, int(2000 / max($rtt, 1)))))")
            timeout=$(python3 -c "print(max(0.05, 2 * $rtt / 1000))")
            rm -rf "$store"
            # shellcheck disable=SC2016
            "$R/cable" run --delay "$(python3 -c "print($rtt / 2)")ms" --loss "$loss%" --seed "$r" \
                --left "$R/tcp-server \$LEFT:9999 -q & $R/udp-server \$LEFT:9998 -q --rate-limit 0 &
                        $R/upload serve \$LEFT:9000 --dir $store --no-progress -q; wait" \
                --right "$R/tcp-client \$LEFT:9999 -q --connections 1 --count $n --json
                         $R/udp-client \$LEFT:9998 -q --count $n --interval 0 --timeout $timeout --json
                         $R/upload send $file --to \$LEFT:9000 --no-progress -q --json" \
                >"$OUT/tcpudp.out" 2>"$OUT/tcpudp.err" || true
            # The rate the upload achieved, offered again as datagrams.
            local values
            values=$(python3 - "$OUT/tcpudp.out" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
tcp = next(o for o in objs if "connections" in o)
udp = next(o for o in objs if "lost_percent" in o and "target_rate" not in o)
up = next(o for o in objs if "sha256" in o)
print(tcp["round_trips_per_sec"], udp["round_trips_per_sec"], udp["lost_percent"], up["seconds"],
      up["size"] / up["seconds"])
PY
) || { echo "bench: tcpudp $cell: a measurement failed: $(tail -3 "$OUT/tcpudp.err")" >&2; exit 1; }
            local tcp_rt udp_rt udp_lost up_s up_rate
            read -r tcp_rt udp_rt udp_lost up_s up_rate <<<"$values"
            local pps secs
            pps=$(python3 -c "print(max(1, round($up_rate / 1400)))")
            secs=$(python3 -c "print(min(5.0, max(1.0, $up_s)))")
            "$R/cable" run --delay "$(python3 -c "print($rtt / 2)")ms" --loss "$loss%" --seed "$r" \
                --left "$R/udp-server \$LEFT:9998 -q --rate-limit 0 >/dev/null" \
                --right "$R/udp-client \$LEFT:9998 -q --rate $pps --duration $secs --size 1400 --json" \
                >"$OUT/tcpudp.out" 2>"$OUT/tcpudp.err" || true
            local answered
            answered=$(python3 -c "import json,sys; o=json.loads(open(sys.argv[1]).read()); print(100 - o['lost_percent'])" "$OUT/tcpudp.out") ||
                { echo "bench: tcpudp $cell: the rate run failed: $(tail -3 "$OUT/tcpudp.err")" >&2; exit 1; }
            record tcpudp-tcp-rt "$cell" "$r" "$tcp_rt"
            record tcpudp-udp-rt "$cell" "$r" "$udp_rt"
            record tcpudp-udp-lost "$cell" "$r" "$udp_lost"
            record tcpudp-tcp-s "$cell" "$r" "$up_s"
            record tcpudp-tcp-rate "$cell" "$r" "$up_rate"
            record tcpudp-udp-answered "$cell" "$r" "$answered"
        done
    done
    rm -rf "$file" "$store"
}

# ---- TFTP ----------------------------------------------------------------------------------
TFTP_SERVERS=(tftp atftpd tftpd-hpa)
TFTP_CLIENTS=(tftp curl tftp-hpa atftp)
# Where a server or client comes from, and whether it can run here.
tftp_available() {
    case $1 in
        tftp) true ;;
        atftpd) have atftpd || [[ -x /usr/sbin/atftpd ]] ;;
        tftpd-hpa) have in.tftpd-hpa && (($(id -u) == 0)) ;;
        curl) have curl ;;
        tftp-hpa) tftp -V 2>&1 | grep -q tftp-hpa ;;
        atftp) have atftp ;;
    esac
}
tftp_why() {
    case $1 in
        tftpd-hpa) have in.tftpd-hpa && echo "in.tftpd -s needs root (it chroots)" || echo "not installed" ;;
        *) echo "not installed" ;;
    esac
}
# tftp_serve SERVER DIR: starts SERVER on a free port serving DIR; sets SERVER_ADDR.
tftp_serve() {
    local port
    case $1 in
        tftp) start_server tftp "$R/tftp" serve 127.0.0.1:0 --dir "$2" --quiet ;;
        atftpd)
            port=$(free_port udp)
            start_server atftpd sh -c "echo 'atftpd on port $port'; exec $(command -v atftpd || echo /usr/sbin/atftpd) --daemon --no-fork --port $port --bind-address 127.0.0.1 --logfile /dev/null '$2'"
            wait_bound udp "$port"
            ;;
        tftpd-hpa)
            port=$(free_port udp)
            start_server tftpd-hpa sh -c "echo 'in.tftpd on port $port'; exec in.tftpd-hpa -L -a 127.0.0.1:$port -s -u root '$2'"
            wait_bound udp "$port"
            ;;
    esac
}
# tftp_get CLIENT OPTIONS ADDR NAME OUT: one get; OPTIONS is default or best.
tftp_get() {
    local c=$1 o=$2 addr=$3 name=$4 out=$5 host=${3%:*} port=${3##*:}
    case $c:$o in
        tftp:default) "$R/tftp" get "$addr" "$name" -o "$out" --quiet >/dev/null ;;
        tftp:best) "$R/tftp" get "$addr" "$name" -o "$out" --quiet --blksize 65464 --windowsize 64 >/dev/null ;;
        curl:default) curl -sS -o "$out" "tftp://$addr/$name" ;;
        curl:best) curl -sS --tftp-blksize 65464 -o "$out" "tftp://$addr/$name" ;;
        tftp-hpa:default) tftp "$host" "$port" -m binary -c get "$name" "$out" >/dev/null ;;
        atftp:default) atftp -g -r "$name" -l "$out" "$host" "$port" >/dev/null 2>&1 ;;
        atftp:best) atftp --option "blksize 65464" --option "windowsize 64" -g -r "$name" -l "$out" "$host" "$port" >/dev/null 2>&1 ;;
    esac
}
tftp_workload() {
    local dir out
    if ram_available; then dir="$RAM_DIR/tftp-serve" out="$RAM_DIR/tftp-got.bin"; else dir="$OUT/tftp-serve" out="$OUT/tftp-got.bin"; fi
    rm -rf "$dir" && mkdir -p "$dir" && chmod 777 "$dir"
    head -c $((TFTP_MIB * 1048576)) /dev/urandom >"$dir/file.bin"
    chmod 644 "$dir/file.bin"
    local expected bytes=$((TFTP_MIB * 1048576))
    expected=$(sha256sum "$dir/file.bin" | cut -d' ' -f1)
    local server client o
    for server in "${TFTP_SERVERS[@]}"; do
        for client in "${TFTP_CLIENTS[@]}"; do
            for o in default best; do
                [[ $client:$o == tftp-hpa:best ]] && continue
                if ! tftp_available "$server"; then missing "tftp-$o" "$server/$client" "$(tftp_why "$server")"; continue; fi
                if ! tftp_available "$client"; then missing "tftp-$o" "$server/$client" "$(tftp_why "$client")"; continue; fi
            done
        done
    done
    local r
    for r in $(seq 1 "$TFTP_RUNS"); do
        for server in $(rotated "$r" "${TFTP_SERVERS[@]}"); do
            tftp_available "$server" || continue
            tftp_serve "$server" "$dir"
            for client in $(rotated "$r" "${TFTP_CLIENTS[@]}"); do
                tftp_available "$client" || continue
                for o in default best; do
                    [[ $client:$o == tftp-hpa:best ]] && continue
                    rm -f "$out"
                    local t0 t1
                    t0=$(date +%s.%N)
                    tftp_get "$client" "$o" "$SERVER_ADDR" file.bin "$out"
                    t1=$(date +%s.%N)
                    local got
                    got=$(sha256sum "$out" | cut -d' ' -f1)
                    if [[ $got != "$expected" ]]; then
                        echo "bench: tftp $server/$client ($o): the file that arrived is not the one sent" >&2
                        exit 1
                    fi
                    local mbs
                    mbs=$(python3 -c "import sys; print($bytes / (float(sys.argv[2]) - float(sys.argv[1])) / 1e6)" "$t0" "$t1")
                    record "tftp-$o" "$server/$client" "$r" "$mbs"
                    echo "  tftp $server/$client ($o), run $r: $mbs MB/s" >&2
                done
            done
            stop_server
        done
    done
    rm -rf "$dir" "$out"
}

# ---- TFTP across the cable ------------------------------------------------------------------
# What each measure asks: blksize and windowsize.
TFTPCABLE_MEASURES=(512:1 1428:1 1428:16 upload)
tftpcable_workload() {
    local why
    why=$(cable_refusal)
    if [[ -n $why ]]; then
        for c in $TFTPCABLE_CELLS; do missing tftpcable "$c" "$why"; done
        return
    fi
    local dir="$OUT/tftpcable" store="$OUT/tftpcable-store"
    local r cell m
    for r in $(seq 1 "$TFTPCABLE_RUNS"); do
        for cell in $TFTPCABLE_CELLS; do
            local rtt=${cell%%:*} loss=${cell##*:}
            rm -rf "$dir" "$store" && mkdir -p "$dir" "$store"
            # Each file sized for about TFTPCABLE_SECONDS without loss: a window of blocks per
            # round trip; at least 64 blocks, at most 8 MiB. The upload gets the largest.
            local right="" biggest=0
            for m in "${TFTPCABLE_MEASURES[@]}"; do
                [[ $m == upload ]] && continue
                local blk=${m%%:*} win=${m##*:} size
                size=$(python3 -c "print(int(min(8 << 20, max(64 * $blk, $blk * $win * $TFTPCABLE_SECONDS / ($rtt / 1000)))))")
                ((size > biggest)) && biggest=$size
                head -c "$size" /dev/urandom >"$dir/f-$blk-$win.bin"
                right+="$R/tftp get \$LEFT:6969 f-$blk-$win.bin -o $store/got-$blk-$win.bin --blksize $blk --windowsize $win --json -q; "
            done
            head -c "$biggest" /dev/urandom >"$dir/up.bin"
            right+="$R/upload send $dir/up.bin --to \$LEFT:9000 --no-progress -q --json"
            # shellcheck disable=SC2016
            "$R/cable" run --delay "$(python3 -c "print($rtt / 2)")ms" --loss "$loss%" --seed "$r" \
                --left "$R/tftp serve \$LEFT:6969 --dir $dir -q & $R/upload serve \$LEFT:9000 --dir $store/up --no-progress -q; wait" \
                --right "$right" >"$OUT/tftpcable.out" 2>"$OUT/tftpcable.err" || true
            local values
            values=$(python3 - "$OUT/tftpcable.out" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
tftp = {(o["blksize"], o["windowsize"]): o for o in objs if "blksize" in o}
up = next(o for o in objs if "sha256" in o and "blksize" not in o)
out = []
for key in [(512, 1), (1428, 1), (1428, 16)]:
    o = tftp[key]
    out.append(o["size"] / o["seconds"] / 1e6)
out.append(up["size"] / up["seconds"] / 1e6)
print(*out)
PY
) || { echo "bench: tftpcable $cell: a transfer failed: $(tail -3 "$OUT/tftpcable.err")" >&2; exit 1; }
            local v512 v1428 vwin vup
            read -r v512 v1428 vwin vup <<<"$values"
            record tftpcable-512 "$cell" "$r" "$v512"
            record tftpcable-1428 "$cell" "$r" "$v1428"
            record tftpcable-win "$cell" "$r" "$vwin"
            record tftpcable-upload "$cell" "$r" "$vup"
            echo "  tftpcable $cell, run $r: 512 $v512, 1428 $v1428, 1428x16 $vwin, upload $vup MB/s" >&2
        done
    done
    rm -rf "$dir" "$store"
}

# ---- start-up ----------------------------------------------------------------------------
STARTUP_SYSTEMS=(upload tcp-server tcp-client udp-server udp-client python socat)
startup_workload() {
    if ! have socat; then missing startup socat "not installed"; fi
    for r in $(runs); do
        for s in $(rotated "$r" "${STARTUP_SYSTEMS[@]}"); do
            local cmd
            case $s in
                python) have python3 || continue; cmd=(python3 -c 'import socket') ;;
                socat) have socat || continue; cmd=(socat -V) ;;
                *) cmd=("$R/$s" --version) ;;
            esac
            # Milliseconds per exec, over STARTUP_EXECS execs.
            local ms
            ms=$(python3 - "$STARTUP_EXECS" "${cmd[@]}" <<'PY'
import subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
t = time.perf_counter()
for _ in range(n):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(f"{(time.perf_counter() - t) / n * 1000:.3f}")
PY
)
            if counted "$r"; then record startup "$s" "$r" "$ms"; fi
        done
    done
}

# ---- the run ---------------------------------------------------------------------------
echo "mode $MODE: $RUNS counted runs after $WARMUP warm-up, alternating" >&2
if wanted tcp; then timed tcp tcp_workload; fi
if wanted conns; then timed conns conns_workload; fi
if wanted idle; then timed idle idle_workload; fi
if wanted flood; then timed flood flood_workload; fi
if wanted udp; then timed udp udp_workload; fi
if wanted rate; then timed rate rate_workload; fi
if wanted upload; then timed upload upload_workload; fi
if wanted resume; then timed resume resume_workload; fi
if wanted folder; then timed folder folder_workload; fi
if wanted sha256; then timed sha256 sha256_workload; fi
if wanted cable; then timed cable cable_workload; fi
if wanted tcpudp; then timed tcpudp tcpudp_workload; fi
if wanted tftp; then timed tftp tftp_workload; fi
if wanted tftpcable; then timed tftpcable tftpcable_workload; fi
if wanted startup; then timed startup startup_workload; fi

cat >"$OUT/meta.json" <<EOF
{"mode": "$MODE", "command": "$COMMAND_LINE", "runs": $RUNS, "warmup": $WARMUP,
 "seconds": $(($(date +%s) - STARTED)), "workload_seconds": {$(IFS=,; echo "${TIMINGS[*]}")},
 "sizes": {"tcp_count": $TCP_COUNT, "payload": $PAYLOAD, "conns": [$(IFS=,; echo "${CONNS[*]}")],
           "conn_counts": [$(IFS=,; echo "${CONN_COUNTS[*]}")], "idle": $IDLE, "idle_max": $IDLE_MAX, "flood": $FLOOD,
           "udp_count": $UDP_COUNT, "step_seconds": $STEP_SECONDS, "file_mib": $FILE_MIB,
           "startup_execs": $STARTUP_EXECS, "cable_seconds": $CABLE_SECONDS, "cable_pings": $CABLE_PINGS,
           "tcpudp_runs": $TCPUDP_RUNS, "tcpudp_mib": $TCPUDP_MIB, "tftp_runs": $TFTP_RUNS, "tftp_mib": $TFTP_MIB,
           "tftpcable_runs": $TFTPCABLE_RUNS,
           "resume_cable_mib": $RESUME_CABLE_MIB, "resume_cable_rate": "$RESUME_CABLE_RATE",
           "folder_files": $FOLDER_FILES, "folder_kib": $FOLDER_KIB}}
EOF
report=(python3 bench/report.py "$OUT")
if ((PUBLISH)); then report+=(--publish docs/src); fi
"${report[@]}"
