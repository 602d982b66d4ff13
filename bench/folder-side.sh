#!/usr/bin/env bash
# bench/folder-side.sh — one timed send of a folder of small files over loopback into a
# folder on disk, run by bench/run.sh. It prints the seconds the send took.
#
#   bench/folder-side.sh upload|tar+nc|fsync-floor BIN_DIR TREE STORE_DIR
#
# upload:      `upload send TREE` to an `upload serve --dir STORE_DIR` (SHA-256 both
#              sides, each file synced and renamed into place before its OK);
# tar+nc:      `tar c TREE | nc` into `nc -l | tar x` (no hash, no sync, no answer);
# fsync-floor: no network at all: each file copied to a hidden name, fsync, link to its
#              name, fsync of its folder: the two syncs per file that upload's OK stands
#              for, and nothing else.
# Every file must then be in STORE_DIR with its size.
set -euo pipefail
kind=$1 bin=$2 tree=$3 store=$4
name=$(basename "$tree")
parent=$(dirname "$tree")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sync
case $kind in
    upload)
        log=$(mktemp)
        "$bin/upload" serve 127.0.0.1:0 --dir "$store" --quiet --no-progress >"$log" 2>&1 &
        server=$!
        addr=""
        for _ in $(seq 200); do
            addr=$(grep -o -m1 'listening on [^ ]*' "$log" 2>/dev/null | cut -d' ' -f3 || true)
            [[ -n $addr ]] && break
            sleep 0.05
        done
        t0=$(date +%s.%N)
        # (its summary line is on stderr, kept to show if it fails)
        "$bin/upload" send "$tree" --to "$addr" --quiet --no-progress >/dev/null 2>"$log.send" ||
            { cat "$log.send" >&2; exit 1; }
        rm -f "$log.send"
        t1=$(date +%s.%N)
        kill "$server"
        wait "$server" 2>/dev/null || true
        rm -f "$log"
        ;;
    tar+nc)
        port=$(free_port)
        (cd "$store" && nc -l 127.0.0.1 "$port" | tar x) &
        receiver=$!
        # nc -l is listening once its port is taken (a probe would be its one connection).
        if command -v ss >/dev/null; then
            for _ in $(seq 200); do
                ss -ltn "sport = :$port" | grep -q LISTEN && break
                sleep 0.02
            done
        else
            sleep 0.5
        fi
        t0=$(date +%s.%N)
        tar c -C "$parent" "$name" | nc -N 127.0.0.1 "$port"
        wait "$receiver"
        t1=$(date +%s.%N)
        ;;
    fsync-floor)
        t0=$(date +%s.%N)
        python3 - "$parent" "$name" "$store" <<'PY'
import os, sys
parent, name, store = sys.argv[1:]
for folder, _, files in os.walk(os.path.join(parent, name)):
    into = os.path.join(store, os.path.relpath(folder, parent))
    os.makedirs(into, exist_ok=True)
    fd = os.open(into, os.O_RDONLY)
    for f in files:
        data = open(os.path.join(folder, f), "rb").read()
        part = os.path.join(into, "." + f + ".part")
        with open(part, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.link(part, os.path.join(into, f))
        os.unlink(part)
        os.fsync(fd)
    os.close(fd)
PY
        t1=$(date +%s.%N)
        ;;
    *) echo "folder-side: unknown kind $kind" >&2; exit 2 ;;
esac
want=$(find "$tree" -type f | wc -l)
got=$(find "$store/$name" -type f | wc -l)
if ((got != want)); then
    echo "folder-side: $kind stored $got of $want files" >&2
    exit 1
fi
python3 -c "print(f'{float(\"$t1\") - float(\"$t0\"):.6f}')"
