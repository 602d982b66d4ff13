#!/usr/bin/env bash
# docs/transcripts.sh — make the book's transcripts by running the programs, never by hand.
#
#   docs/transcripts.sh            # play every lesson (docs/demo.sh --plain) and write each
#                                  # side's output to docs/src/transcripts/LESSON-SIDE.txt
#   docs/transcripts.sh --check    # the same into a temporary folder, then compare: exit 1
#                                  # and show the difference when the book is out of date (CI)
#   docs/transcripts.sh LESSON...  # only these lessons
#
# It also writes every program's --help (help-PROGRAM.txt) for the reference page.
#
# What changes from run to run is normalised, so that a transcript changes only when a
# program's behaviour does: clock times become hh:mm:ss.mmm, durations and rates #.#,
# the client's ephemeral ports 50001, 50002, ... in order of appearance, pids PID.
# Each lesson runs on a port that is free at the time (--port to fix one); it is written as
# 9999 all the same. A fresh port matters: TIME_WAIT left on a port by one lesson would stop
# the tutorial's server, which has no SO_REUSEADDR, in the next.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/docs/src/transcripts"
CHECK=0 PORT="" LESSONS=()
while (($#)); do
    case $1 in
        --check) CHECK=1 ;;
        --port) PORT=${2:?--port needs a number}; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) LESSONS+=("$1") ;;
    esac
    shift
done
ALL_LESSONS=()
if ((${#LESSONS[@]} == 0)); then
    for f in "$ROOT"/docs/demos/*.sh; do LESSONS+=("$(basename "$f" .sh)"); done
    ALL_LESSONS=("${LESSONS[@]}")
fi

(cd "$ROOT" && cargo build --quiet --bins)
OUT=$DEST
if ((CHECK)); then
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT"
# The files this run makes. Not "what is in $OUT": when writing, $OUT is the book's own
# folder, where a stale file is still present.
declare -A MADE=()

NORMALISE='
import re, sys
port, text = sys.argv[1], sys.stdin.read()
text = re.sub(r"/tmp/sockets-lab-demo\.\w+/?", "", text)
text = re.sub(r"\b\d\d:\d\d:\d\d\.\d{3}\b", "hh:mm:ss.mmm", text)
# Durations, rates and round-trip times vary with the machine and its load.
text = re.sub(r"(rtt min/avg/p50/p99/max = )[\d./]+", r"\1#.#/#.#/#.#/#.#/#.#", text)
text = re.sub(r"\b\d+\.\d+ (s|ms|us|µs|MB/s|KiB/s|MiB/s)\b", r"#.# \1", text)
text = re.sub(r"\b\d+\.\d+(ms|us|µs)\b", r"#.#\1", text)
text = re.sub(r"time=\d+\.\d+", "time=#.#", text)
text = re.sub(r"\b[\d,]+(\.\d+)? round trips/s", "# round trips/s", text)
text = re.sub(r"jitter \d+\.\d+", "jitter #.#", text)
text = re.sub(r"peak \d+ at once", "peak # at once", text)
# The one-thread lesson: the memory of a server varies a little from run to run (its threads
# and connections do not).
text = re.sub(r"RSS \d+\.\d MiB \(\d+ bytes per idle connection\)", "RSS #.# MiB (# bytes per idle connection)", text)
# The backlog lesson, burst of 20 clients: how each one ended (a reply, or a timeout while
# the server was frozen) depends on when its retried SYN got through.
def burst(m):
    return re.sub(r"closed: \d+ exit, \d+ end of stream|\d+ B in, \d+ B out",
                  lambda x: "closed: # exit, # end of stream" if x.group(0).startswith("closed") else "# B in, # B out",
                  m.group(0))
text = re.sub(r".*summary: 20 connections accepted.*", burst, text)
text = re.sub(r"\bpid[= ]\d+", "pid=PID", text)
# The files of Python itself in a traceback: where Python is installed varies.
text = re.sub(r"File \"[^\"]*/(lib/python3[^\"/]*/[^\"]+)\", line \d+", "File \"\\1\", line N", text)
# Ephemeral ports, numbered in order of appearance; the lesson port is always 9999.
ports = {port: "9999"}
def number(m):
    p = m.group(2)
    if p not in ports:
        ports[p] = str(50001 + len(ports) - 1)
    return m.group(1) + ports[p]
text = re.sub(r"(127\.0\.0\.1:|\[::1\]:|\[::\]:|\[::ffff:127\.0\.0\.1\]:|\x27127\.0\.0\.1\x27, )(\d+)", number, text)
text = re.sub(r"(sport = :|dport = :|port |127\.0\.0\.1 )" + port + r"\b", r"\g<1>9999", text)
text = re.sub(r"(udp_user\.py |tcp\.py |tcp_asyncio\.py |tcp_user\.py |udp\.py |upload_user\.py |upload\.py |tftp_server\.py |tftp_sas\.py )" + port + r"\b", r"\g<1>9999", text)
sys.stdout.write(text)
'

# A port free for TCP and UDP (port 0 never picks one that TIME_WAIT still holds).
free_port() {
    python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
'
}

for lesson in "${LESSONS[@]}"; do
    echo "playing $lesson..." >&2
    port=${PORT:-$(free_port)}
    # Normalised as a whole, so a port has the same number on every side.
    raw=$("$ROOT/docs/demo.sh" --plain --no-build --port "$port" "$lesson" | python3 -c "$NORMALISE" "$port")
    for side in server client side; do
        lines=$(grep "^$side| " <<<"$raw" | sed "s/^$side| //" || true)
        [[ -n $lines ]] || continue
        printf '%s\n' "$lines" >"$OUT/$lesson-$side.txt"
        MADE["$lesson-$side.txt"]=1
    done
done

# Every program's --help, for the reference page.
for cmd in tcp-server tcp-client udp-server udp-client upload "upload serve" "upload send" "upload get" "upload sum" \
    cable "cable run" "cable hold" "cable exec" "cable draw" \
    tftp "tftp serve" "tftp get" "tftp put" "tftp grader-files"; do
    # shellcheck disable=SC2086
    "$ROOT"/target/debug/$cmd --help >"$OUT/help-${cmd// /-}.txt"
    MADE["help-${cmd// /-}.txt"]=1
done

# The book's transcripts that this run should have made and did not: a lesson that no
# longer has that side, or a program's help that is gone. (systems-windows.txt is the Windows
# programs' output: .ci/wine.sh makes it, and checks it.)
stale=()
# made_by LESSON NAME: whether NAME is one of LESSON's transcripts (a side each).
made_by() { [[ $2 == "$1-server.txt" || $2 == "$1-client.txt" || $2 == "$1-side.txt" ]]; }
for f in "$DEST"/*.txt; do
    name=$(basename "$f")
    [[ -n ${MADE[$name]:-} || $name == systems-windows.txt ]] && continue
    owner=""
    for lesson in "${LESSONS[@]}"; do made_by "$lesson" "$name" && owner=$lesson; done
    # Help is made for every program on every run; and with every lesson played, a file
    # that belongs to none is stale too.
    if [[ -n $owner || $name == help-*.txt ]]; then
        stale+=("$name")
    elif ((${#ALL_LESSONS[@]})); then
        for lesson in "${ALL_LESSONS[@]}"; do made_by "$lesson" "$name" && owner=$lesson; done
        [[ -z $owner ]] && stale+=("$name")
    fi
done

if ((CHECK)); then
    status=0
    for f in "$OUT"/*.txt; do
        name=$(basename "$f")
        if ! diff -u "$DEST/$name" "$f"; then
            echo "transcripts: docs/src/transcripts/$name is out of date: run docs/transcripts.sh and commit it" >&2
            status=1
        fi
    done
    for name in "${stale[@]}"; do
        echo "transcripts: docs/src/transcripts/$name is made by no lesson any more: run docs/transcripts.sh (it removes it) and fix what includes it" >&2
        status=1
    done
    ((status == 0)) && echo "transcripts: the book agrees with the programs (${#LESSONS[@]} lessons)" >&2
    exit "$status"
fi
for name in "${stale[@]}"; do
    rm -f "$DEST/$name"
    echo "removed docs/src/transcripts/$name: no lesson makes it any more" >&2
done
echo "transcripts written to ${DEST#"$ROOT"/}" >&2
