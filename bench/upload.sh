#!/usr/bin/env bash
# bench/upload.sh — `upload` against `nc` and the tutorial's upload (its Python 3 port,
# docs/python/upload.py and upload_user.py), in one run: the same file of random bytes, over
# loopback, into a file, end to end; alternating, repeated; medians (min-max), ratios, and
# the peak memory of each side. Results are printed as a Markdown table and written as JSON.
#
#   bench/upload.sh            # 1 GiB, 5 runs (Python: 3), a few minutes
#   bench/upload.sh --quick    # 16 MiB, 1 run: checks the script itself
#
# What each run measures, from the sender's start to the file complete on the other side:
#   upload   `upload send FILE` to `upload serve`: SHA-256 on both sides, fsync, rename, and
#            the server's OK after comparing digests. The sender exits after that OK.
#   nc       `nc -N HOST PORT < FILE` to `nc -d -l PORT > OUT`: bytes only, no checksum,
#            no fsync. The sender exits when the receiver has written the last byte and
#            closed.
#   nc+sync  the same, then `sync OUT`: nc with the durability `upload` gives (fsync).
#   python   upload_user.py to upload.py (the tutorial's exchange, recv(1024)).
# Peak memory: the sender's from getrusage; the receiver's from /proc/PID/status (VmHWM)
# for the servers that stay up, from getrusage for nc.
# Before each run: `sync`, so that writing back the last run's file does not slow this one.
# Everything goes to loopback; every process the script starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=1024
ROUNDS=5
PY_ROUNDS=3
if [[ "${1:-}" == "--quick" ]]; then
    SIZE_MIB=16 ROUNDS=1 PY_ROUNDS=1
fi
SYSTEMS=(upload nc nc+sync python)

echo "building release binaries..." >&2
cargo build --release --quiet -p upload
source bench/lib.sh
rm -f "$OUT"/upload-run-*
have() { command -v "$1" >/dev/null 2>&1; }

SRC="$OUT/upload-src-${SIZE_MIB}m.bin"
if [[ ! -f "$SRC" ]] || (( $(stat -c %s "$SRC") != SIZE_MIB * 1048576 )); then
    echo "making $SRC ($SIZE_MIB MiB of random bytes)..." >&2
    head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$SRC"
fi
RECV="$OUT/upload-recv"

available() {
    case $1 in
        nc | nc+sync) have nc ;;
        python) have python3 ;;
        *) true ;;
    esac
}

# run SYSTEM ROUND: one transfer; writes $OUT/upload-run-SYSTEM-rROUND (seconds, sender KiB,
# receiver KiB) and checks that the received file is complete.
run() {
    local s=$1 r=$2 res="$OUT/upload-run-$1-r$2" received
    rm -rf "$RECV" && mkdir -p "$RECV"
    sync
    case $s in
        upload)
            start_server upload "$R/upload" serve 127.0.0.1:0 --dir "$RECV" --quiet --max-size 8GiB --keep-free 0
            measure "$res.send" "$R/upload" send "$SRC" --to "$SERVER_ADDR" --quiet >/dev/null
            peak_rss "$SERVER_PID" >"$res.recv"
            stop_server
            received="$RECV/$(basename "$SRC")"
            ;;
        nc | nc+sync)
            local port
            port=$(free_port tcp)
            received="$RECV/out.bin"
            # -d: the receiver does not read its stdin, so it exits when the sender closes.
            measure "$res.recvrss" nc -d -l 127.0.0.1 "$port" >"$received" </dev/null &
            local rpid=$!
            # Wait until it listens (state 0A in /proc/net/tcp), without connecting to it.
            local hex
            hex=$(printf '%04X' "$port")
            for _ in $(seq 100); do grep -q ":$hex 00000000:0000 0A" /proc/net/tcp && break; sleep 0.05; done
            if [[ $s == nc ]]; then
                measure "$res.send" nc -N 127.0.0.1 "$port" <"$SRC"
            else
                measure "$res.send" sh -c "nc -N 127.0.0.1 $port < '$SRC' && sync '$received'"
            fi
            wait "$rpid"
            cut -d' ' -f2 "$res.recvrss" >"$res.recv"
            ;;
        python)
            start_server python sh -c "cd '$RECV' && exec python3 -u '$PWD/docs/python/upload.py' 0"
            measure "$res.send" python3 docs/python/upload_user.py "${SERVER_ADDR##*:}" "$SRC" >/dev/null
            # The tutorial's server says "done" before it closes the file: give it a moment.
            sleep 0.2
            peak_rss "$SERVER_PID" >"$res.recv"
            stop_server
            received="$RECV/recv_yan.jpg"
            ;;
    esac
    local got
    got=$(stat -c %s "$received" 2>/dev/null || echo 0)
    if (( got != SIZE_MIB * 1048576 )); then
        echo "$s: received $got bytes, expected $((SIZE_MIB * 1048576))" >&2
        exit 1
    fi
    # Byte for byte, once per system (the digests already prove it for upload).
    if (( r == 1 )); then cmp -s "$SRC" "$received" || { echo "$s: received file differs" >&2; exit 1; }; fi
    echo "$(cut -d' ' -f1 "$res.send") $(cut -d' ' -f2 "$res.send") $(cat "$res.recv")" >"$res"
    rm -f "$res.send" "$res.recv" "$res.recvrss"
    echo "  $s run $r: $(cut -d' ' -f1 "$res") s" >&2
}

echo "upload of $SIZE_MIB MiB over loopback: $ROUNDS runs each ($PY_ROUNDS for Python), alternating" >&2
for r in $(seq "$ROUNDS"); do
    for i in $(seq 0 $((${#SYSTEMS[@]} - 1))); do
        s=${SYSTEMS[$(((i + r) % ${#SYSTEMS[@]}))]}
        available "$s" || continue
        [[ $s == python ]] && ((r > PY_ROUNDS)) && continue
        run "$s" "$r"
    done
done
rm -rf "$RECV"

python3 - "$OUT" "${SYSTEMS[*]}" "$SIZE_MIB" <<'PY'
import glob, json, os, platform, statistics, sys
out, systems, size_mib = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
size = size_mib * 1048576
result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
          "file_bytes": size}
def stats(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": v} if v else None
for s in systems:
    rows = [list(map(float, open(f).read().split())) for f in sorted(glob.glob(os.path.join(out, f"upload-run-{s}-r*")))]
    result[s] = {
        "seconds": stats([r[0] for r in rows]),
        "sender_peak_rss_kib": stats([r[1] for r in rows]),
        "receiver_peak_rss_kib": stats([r[2] for r in rows]),
    }
names = {"upload": "upload (SHA-256 both sides, fsync)", "nc": "nc (no checksum, no fsync)",
         "nc+sync": "nc, then sync", "python": "Python upload.py / upload_user.py"}
ours = result["upload"]["seconds"]
print(f"\nmachine: {result['machine']}; file: {size_mib} MiB of random bytes\n")
print("| sender → receiver | seconds, median (min-max) | MB/s | upload's speed ÷ this | sender peak RSS | receiver peak RSS |")
print("|---|---|---|---|---|---|")
for s in systems:
    r = result[s]
    t = r["seconds"]
    if t is None:
        print(f"| {names[s]} | not installed | | | | |")
        continue
    mbs = size / t["median"] / 1e6
    ratio = f"{t['median'] / ours['median']:.2f}x" if ours else "-"
    mib = lambda x: f"{x['median'] / 1024:.1f} MiB"
    print(f"| {names[s]} | {t['median']:.3f} ({t['min']:.3f}-{t['max']:.3f}) | {mbs:,.0f} | {ratio} "
          f"| {mib(r['sender_peak_rss_kib'])} | {mib(r['receiver_peak_rss_kib'])} |")
json.dump(result, open(os.path.join(out, "upload.json"), "w"), indent=2)
print(f"\n(JSON: {os.path.join(out, 'upload.json')})")
PY
