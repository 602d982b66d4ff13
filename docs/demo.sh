#!/usr/bin/env bash
# docs/demo.sh — play a lesson of the book in two terminals side by side.
#
#   docs/demo.sh --list            # the lessons
#   docs/demo.sh sockets           # tmux: server on the left, client on the right (and a
#                                  # third pane below it where the lesson needs one)
#   docs/demo.sh --plain sockets   # no tmux: the same commands one after the other, each
#                                  # output line prefixed with its side (server| client| side|)
#
# Options: --port N (default 9999), --pace SECONDS (tmux: pause between steps, default 3),
# --no-build (use the binaries already in target/debug).
#
# In tmux the commands are typed into the panes, so the class sees exactly what to type;
# the session stays open when the lesson ends (Ctrl-b d leaves it, `tmux kill-session -t
# sockets-lab` ends it). Without tmux, or with --plain, the lesson runs in this terminal;
# docs/transcripts.sh uses that mode to make the book's transcripts, and a test runs every
# lesson that way.
#
# A lesson is a file docs/demos/LESSON.sh of steps (see docs/demos/README.md):
#   server CMD     start a server in the left pane; wait until it has bound the port
#   client CMD     run a command in the right pane and wait for it to end
#   side CMD       run a command in the third pane and wait for it to end
#   stop           Ctrl-C every server this lesson started (each prints its summary)
#   freeze / thaw  SIGSTOP / SIGCONT the servers: a server too busy to accept
#   pause S        wait S seconds
# In a lesson, $PORT is the port and $ADDR is 127.0.0.1:$PORT.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMOS="$ROOT/docs/demos"

PLAIN=0 PORT=9999 PACE=3 BUILD=1 LESSON=""
while (($#)); do
    case $1 in
        --plain) PLAIN=1 ;;
        --port) PORT=${2:?--port needs a number}; shift ;;
        --pace) PACE=${2:?--pace needs seconds}; shift ;;
        --no-build) BUILD=0 ;;
        --list)
            for f in "$DEMOS"/*.sh; do
                printf '%-12s %s\n' "$(basename "$f" .sh)" "$(sed -n 's/^# Lesson: //p' "$f")"
            done
            exit 0
            ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
        *) LESSON=$1 ;;
    esac
    shift
done
if [[ -z $LESSON || ! -f "$DEMOS/$LESSON.sh" ]]; then
    echo "demo.sh: which lesson? one of: $(cd "$DEMOS" && ls ./*.sh | sed 's|^\./||; s|\.sh$||' | tr '\n' ' ')" >&2
    exit 2
fi
if ! command -v tmux >/dev/null 2>&1 && ((!PLAIN)); then
    echo "demo.sh: tmux is not installed: playing the lesson here, one command after another" >&2
    PLAIN=1
fi

if ((BUILD)); then
    (cd "$ROOT" && cargo build --quiet --bins)
fi
export PATH="$ROOT/target/debug:$PATH"
ADDR="127.0.0.1:$PORT"
# The lesson's folder: the tutorial's Python programs, and whatever the lesson makes.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockets-lab-demo.XXXXXX")
cp "$ROOT"/docs/python/*.py "$WORK"/
cd "$WORK"

# How many sockets (TCP listeners and UDP sockets) are bound to $PORT. The peer field is
# all zeros: 8 hex digits in /proc/net/tcp, 32 in tcp6 (a server on [::]). A count, not a
# yes or no, so that a second server on a port already taken is waited for too.
bound_count() {
    local hex
    hex=$(printf '%04X' "$PORT")
    cat /proc/net/tcp /proc/net/udp /proc/net/tcp6 /proc/net/udp6 2>/dev/null |
        grep -cE ":$hex [0-9A-F]+:0000 (0A|07)" || true
}

SERVERS=()
SESSION=sockets-lab
STEP=0

if ((PLAIN)); then
    # ---- one terminal: each side's lines prefixed -----------------------------------
    prefix() { sed -u "s/^/$1| /"; }
    server() {
        echo "\$ $*" | prefix server
        local before
        before=$(bound_count)
        # Its own process group, so that `stop` can send it Ctrl-C as a terminal would.
        setsid bash -c "exec $*" > >(prefix server) 2>&1 </dev/null &
        local pid=$!
        SERVERS+=("$pid")
        for _ in $(seq 100); do
            (($(bound_count) > before)) && return 0
            if ! kill -0 "$pid" 2>/dev/null; then
                # It ended by itself (it could not start): say how, as a shell would.
                local status=0
                wait "$pid" || status=$?
                sleep 0.1
                echo "(exit status $status)" | prefix server
                unset 'SERVERS[-1]'
                return 0
            fi
            sleep 0.05
        done
        # Still running, and nothing listens: the lesson would go on against no server.
        echo "demo: the server did not listen on port $PORT within 5 s: $*" >&2
        exit 1
    }
    run_on() {
        local side=$1; shift
        echo "\$ $*" | prefix "$side"
        local status
        set +e
        bash -c "$*" </dev/null 2>&1 | prefix "$side"
        status=${PIPESTATUS[0]}
        set -e
        ((status == 0)) || echo "(exit status $status)" | prefix "$side"
    }
    client() { run_on client "$@"; }
    side() { run_on side "$@"; }
    signal_servers() {
        local pid
        for pid in "${SERVERS[@]}"; do kill "-$1" -- "-$pid" 2>/dev/null || true; done
    }
    stop() {
        ((${#SERVERS[@]})) || return 0
        # A client can end a moment before the server logs the close (the server closes
        # its socket, the client sees the end, and only then is the line written and
        # prefixed): let those lines come out before the Ctrl-C does.
        sleep 0.3
        echo "^C" | prefix server
        # One server after the other, so that their summaries come in a fixed order. One
        # that ignores Ctrl-C (the tutorial's Python waits for its client threads) gets
        # SIGTERM after 3 s, then SIGKILL: a demo never hangs.
        local pid tries
        for pid in "${SERVERS[@]}"; do
            kill -INT -- "-$pid" 2>/dev/null || true
            for tries in $(seq 60); do
                kill -0 "$pid" 2>/dev/null || break
                ((tries == 30)) && kill -TERM -- "-$pid" 2>/dev/null
                ((tries == 50)) && kill -KILL -- "-$pid" 2>/dev/null
                sleep 0.1
            done
            wait "$pid" 2>/dev/null || true
        done
        SERVERS=()
        # Let the prefixing finish before the next step prints.
        sleep 0.1
    }
    freeze() { signal_servers STOP; }
    thaw() { signal_servers CONT; }
    pause() { sleep "$1"; }
    finish() {
        stop
        cd / && rm -rf "$WORK"
    }
else
    # ---- tmux: the commands typed into panes -------------------------------------------
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    tmux new-session -d -s "$SESSION" -x 200 -y 50 -c "$WORK"
    tmux split-window -h -t "$SESSION:0.0" -c "$WORK"
    if grep -q '^ *side ' "$DEMOS/$LESSON.sh"; then
        tmux split-window -v -t "$SESSION:0.1" -c "$WORK"
    fi
    for pane in $(tmux list-panes -t "$SESSION" -F '#{pane_index}'); do
        tmux send-keys -t "$SESSION:0.$pane" "export PATH='$PATH'; cd '$WORK'; clear" Enter
    done
    type_in() { # type_in PANE CMD: types the command and presses Enter
        tmux send-keys -t "$SESSION:0.$1" -l "$2"
        tmux send-keys -t "$SESSION:0.$1" Enter
    }
    server() {
        sleep "$PACE"
        # A second server at once goes to the third pane: the left one is busy.
        local pane=0
        ((${#SERVERS[@]} == 0)) || pane=2
        local before
        before=$(bound_count)
        type_in "$pane" "$*"
        for _ in $(seq 100); do (($(bound_count) > before)) && break; sleep 0.05; done
        SERVERS+=("$pane")
    }
    run_on() {
        sleep "$PACE"
        STEP=$((STEP + 1))
        type_in "$1" "$2; tmux wait-for -S sockets-lab-$STEP"
        timeout 120 tmux wait-for "sockets-lab-$STEP" || true
    }
    client() { run_on 1 "$*"; }
    side() { run_on 2 "$*"; }
    # The server's PID, from the socket bound to the port (ss -p).
    server_pids() { ss -H -ltunp "( sport = :$PORT )" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u; }
    stop() {
        sleep "$PACE"
        local pane
        for pane in "${SERVERS[@]}"; do tmux send-keys -t "$SESSION:0.$pane" C-c; done
        SERVERS=()
        sleep 0.5
    }
    freeze() { local p; for p in $(server_pids); do kill -STOP "$p"; done; }
    thaw() { local p; for p in $(server_pids); do kill -CONT "$p"; done; }
    pause() { sleep "$1"; }
    finish() { :; }
fi

play() {
    # shellcheck source=/dev/null
    source "$DEMOS/$LESSON.sh"
    finish
}

if ((PLAIN)); then
    trap 'signal_servers CONT; signal_servers TERM' EXIT
    play
    trap - EXIT
elif [[ -t 0 && -t 1 ]]; then
    # Play in the background and show the session here.
    play >/dev/null 2>&1 &
    tmux attach -t "$SESSION"
else
    play
    echo "demo.sh: lesson played in tmux session $SESSION (tmux attach -t $SESSION)" >&2
fi
