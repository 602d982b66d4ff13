#!/usr/bin/env bash
# The Windows builds, run for real: cross-build the programs for x86_64-pc-windows-gnu
# (mingw is the linker), run them under Wine against the Linux builds and real peers (nc,
# sha256sum, a raw Python client), then run the crates' own tests under Wine.
#
#   bash .ci/wine.sh            everything (CI runs this)
#   bash .ci/wine.sh interop    only the programs against each other
#   bash .ci/wine.sh tests      only the crates' tests under Wine
#   bash .ci/wine.sh transcript the interop, then write what the Windows programs printed
#                               to docs/src/transcripts/systems-windows.txt (the book's
#                               "Same code, three systems" quotes it; the interop checks it)
#
# Needs: wine64 and gcc-mingw-w64-x86-64 (Debian), `rustup target add x86_64-pc-windows-gnu`,
# nc (netcat-openbsd), python3, sha256sum. .ci/run installs them. Everything listens on
# 127.0.0.1, port 0; every process started here is stopped by its own PID.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
what=${1:-all}

target=x86_64-pc-windows-gnu
export WINEDEBUG=-all
export WINEPREFIX=$root/target/wine/prefix
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono or Gecko installer prompts
# Tests built for Windows see `cfg(wine)`: the few that Wine cannot run are listed as
# ignored, each with its reason.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="--cfg wine"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
work=$root/target/wine/run
mkdir -p "$work"

# ---- the Wine prefix: a Windows folder tree, made once ---------------------------------
setup_prefix() {
    local system32=$WINEPREFIX/drive_c/windows/system32
    if [[ ! -d $system32 ]]; then
        echo "== making the Wine prefix (once, about 10 s)"
        wineboot --init >/dev/null 2>&1 || true
        wineserver --wait || true
    fi
    # Rust's std needs ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks: a
    # stand-in of a few lines forwards it to RtlGenRandom (see bcryptprimitives.c).
    if [[ ! -f $system32/bcryptprimitives.dll ]] || ! grep -q ProcessPrng "$system32/bcryptprimitives.dll"; then
        x86_64-w64-mingw32-gcc -shared -O2 -o "$root/target/wine/bcryptprimitives.dll" \
            .ci/wine/bcryptprimitives.c .ci/wine/bcryptprimitives.def -ladvapi32
        cp "$root/target/wine/bcryptprimitives.dll" "$system32/"
    fi
}

# ---- interop: the Windows programs against the Linux ones -------------------------------
passed=0
failed=0
pids=()
ok() { echo "ok    $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1: $2"; failed=$((failed + 1)); }

# start OUTFILE CMD...: runs CMD in the background and waits for "listening on ADDR". The
# port goes into $port, the PID into $server_pid.
start() {
    local out=$1
    shift
    "$@" >"$out" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    local i
    for i in $(seq 1 300); do
        if grep -q "listening on 127.0.0.1:" "$out"; then
            port=$(grep -o "listening on 127.0.0.1:[0-9]*" "$out" | head -1 | cut -d: -f2)
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "did not start: $*; output: $(cat "$out")" >&2
    return 1
}

# stop PID OUTFILE NAME: Ctrl-C (SIGINT, which Wine hands to the program as CTRL_C_EVENT),
# then the summary line and exit 0 are checked.
stop() {
    local pid=$1 out=$2 name=$3 code=0
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        fail "$name stops on Ctrl-C" "still running 10 s after SIGINT"
        return
    fi
    wait "$pid" || code=$?
    if [[ $code -eq 0 ]] && grep -q "stopped. summary:" "$out"; then
        ok "$name stops on Ctrl-C with its summary, exit 0"
    else
        fail "$name stops on Ctrl-C" "exit $code; last line: $(tail -1 "$out")"
    fi
}

cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

interop() {
    echo "== building the programs for Linux and for Windows"
    cargo build --quiet --bins -p tcp-server -p tcp-client -p udp-server -p udp-client -p upload -p tftp
    cargo build --quiet --bins --target $target -p tcp-server -p tcp-client -p udp-server -p udp-client -p upload -p tftp
    local L=$root/target/debug W=$root/target/$target/debug
    local t="timeout 60"
    echo "== the Windows programs under Wine ($(wine --version)), against the Linux ones"

    # tcp-server.exe, in both models, passes the Linux grader's session and attacks and
    # serves nc. The event loop on Windows is mio over the AFD driver (Wine implements it).
    local out model name log
    for model in thread poll; do
        name="tcp-server.exe --model $model"
        log=$work/tcp-server-$model.out
        start "$log" wine "$W/tcp-server.exe" 127.0.0.1:0 --model "$model"
        if out=$($t "$L/tcp-client" "127.0.0.1:$port" --check --attacks 2>&1); then
            ok "$name passes the Linux tcp-client --check --attacks"
        else
            fail "$name passes the Linux tcp-client --check --attacks" "$out"
        fi
        out=$(printf 'li\nbo\nexit\n' | $t nc -q 5 127.0.0.1 "$port" || true)
        if [[ $out == $'Hello!\nhello,li\nhello,bo' ]]; then
            ok "$name serves nc"
        else
            fail "$name serves nc" "got $(printf %q "$out")"
        fi
        if grep -q "accepted: local 127.0.0.1:$port <-> peer 127.0.0.1:" "$log"; then
            ok "$name logs the 4-tuple"
        else
            fail "$name logs the 4-tuple" "$(cat "$log")"
        fi
        stop "$server_pid" "$log" "$name"
    done

    # tcp-client.exe --check passes against the Linux tcp-server.
    start "$work/tcp-server-linux.out" "$L/tcp-server" 127.0.0.1:0
    if out=$($t wine "$W/tcp-client.exe" "127.0.0.1:$port" --check 2>&1); then
        ok "tcp-client.exe --check passes against the Linux tcp-server"
    else
        fail "tcp-client.exe --check passes against the Linux tcp-server" "$out"
    fi
    stop "$server_pid" "$work/tcp-server-linux.out" "tcp-server (Linux)"

    # udp-server.exe answers udp-client, and reports a truncated datagram.
    start "$work/udp-server.out" wine "$W/udp-server.exe" 127.0.0.1:0 --buffer 1024
    out=$($t "$L/udp-client" "127.0.0.1:$port" hello! 2>/dev/null || true)
    if [[ $out == "Hi!hello!" ]]; then
        ok "udp-server.exe answers the Linux udp-client"
    else
        fail "udp-server.exe answers the Linux udp-client" "got $(printf %q "$out")"
    fi
    out=$($t python3 - "$port" <<'PY' 2>&1 || true
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"x" * 2000, ("127.0.0.1", int(sys.argv[1])))
print(len(s.recv(65535)))
PY
)
    sleep 0.5
    if [[ $out == 1027 ]] && grep -q "truncated: more than 1024 bytes arrived" "$work/udp-server.out"; then
        ok "udp-server.exe --buffer 1024 reports a 2,000-byte datagram as truncated (WSAEMSGSIZE)"
    else
        fail "udp-server.exe reports a truncated datagram" "reply $out; log: $(grep -i trunc "$work/udp-server.out" || true)"
    fi
    stop "$server_pid" "$work/udp-server.out" udp-server.exe

    # udp-client.exe against the Linux udp-server.
    start "$work/udp-server-linux.out" "$L/udp-server" 127.0.0.1:0
    out=$($t wine "$W/udp-client.exe" "127.0.0.1:$port" hello! 2>/dev/null | tr -d '\r' || true)
    if [[ $out == "Hi!hello!" ]]; then
        ok "udp-client.exe gets its reply from the Linux udp-server"
    else
        fail "udp-client.exe gets its reply from the Linux udp-server" "got $(printf %q "$out")"
    fi
    stop "$server_pid" "$work/udp-server-linux.out" "udp-server (Linux)"

    # upload.exe serve receives files that sha256sum confirms, and refuses hostile names.
    local files=$work/files received=$work/received-by-windows
    rm -rf "$files" "$received"
    mkdir -p "$files" "$received"
    head -c 5000000 /dev/urandom >"$files/random.bin"
    printf 'hello\n' >"$files/hello.txt"
    : >"$files/empty"
    start "$work/upload-serve.out" wine "$W/upload.exe" serve 127.0.0.1:0 --dir "$received"
    if out=$($t "$L/upload" send "$files/random.bin" "$files/hello.txt" "$files/empty" --to "127.0.0.1:$port" 2>&1) &&
        (cd "$files" && sha256sum random.bin hello.txt empty) >"$work/sums" &&
        (cd "$received" && sha256sum -c --quiet "$work/sums"); then
        ok "upload.exe serve stores 3 files whose digests sha256sum confirms"
    else
        fail "upload.exe serve stores verified files" "$out"
    fi
    # Where an escape would land: "../../escape.txt" two folders above the upload folder
    # (target/wine), "C:\escape.txt" at the root of the Wine prefix's drive C (inside
    # target/wine too), or, resolved against the server's own folder or Wine's Z: drive,
    # above the workspace or at /. None may be there before, or after.
    # (Only the ones inside target/wine are ours to delete; the others must simply not be
    # new.)
    find "$root/target/wine" -name escape.txt -delete 2>/dev/null || true
    local outside=("$(dirname "$root")/escape.txt" /escape.txt) before
    before=$(ls -1 "${outside[@]}" 2>/dev/null || true)
    out=$($t python3 - "$port" <<'PY' 2>&1 || true
import socket, sys
port = int(sys.argv[1])
for name in ["CON", "nul.txt", "Com3.log", "LPT1", "a<b", "why?", "dot.", "space ", "../../escape.txt", "C:\\escape.txt", ".hidden"]:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rwb")
    f.readline()
    f.write(b"PUT 2 " + name.encode() + b"\n")
    f.flush()
    reply = f.readline().decode().strip()
    if not reply.startswith("ERR BAD_NAME "):
        print(f"{name!r}: {reply}")
    s.close()
PY
)
    local stored escaped
    # (.upload-serve.lock is the running server's hold on its folder.)
    stored=$(cd "$received" && ls -A | grep -vx '.upload-serve.lock' | tr '\n' ' ')
    escaped=$( (find "$root/target/wine" -name escape.txt 2>/dev/null; comm -13 <(echo "$before") <(ls -1 "${outside[@]}" 2>/dev/null || true) | grep . || true) | tr '\n' ' ')
    if [[ -z $out && $stored == "empty hello.txt random.bin " && -z $escaped ]]; then
        ok "upload.exe serve refuses 11 hostile names (CON, nul.txt, a<b, ../.., ...) and writes nothing else"
    else
        fail "upload.exe serve refuses hostile names" "$out; folder: $stored; escaped: ${escaped:-none}"
    fi
    stop "$server_pid" "$work/upload-serve.out" "upload.exe serve"

    # upload.exe send uploads to the Linux upload serve.
    received=$work/received-by-linux
    rm -rf "$received"
    start "$work/upload-serve-linux.out" "$L/upload" serve 127.0.0.1:0 --dir "$received"
    if out=$($t wine "$W/upload.exe" send "$files/random.bin" "$files/hello.txt" --to "127.0.0.1:$port" 2>&1) &&
        (cd "$files" && sha256sum random.bin hello.txt) >"$work/sums" &&
        (cd "$received" && sha256sum -c --quiet "$work/sums"); then
        ok "upload.exe send uploads 2 files to the Linux upload serve, digests confirmed"
    else
        fail "upload.exe send uploads to the Linux upload serve" "$out"
    fi
    stop "$server_pid" "$work/upload-serve-linux.out" "upload serve (Linux)"

    # tftp.exe serve sends to the Linux tftp get, stop-and-wait and with a window, and
    # refuses Windows' device names; tftp.exe get and put talk to the Linux tftp serve.
    local shared=$work/tftp-shared got=$work/tftp-got
    rm -rf "$shared" "$got"
    mkdir -p "$shared" "$got"
    head -c 300000 /dev/urandom >"$shared/random.bin"
    start "$work/tftp-serve.out" wine "$W/tftp.exe" serve 127.0.0.1:0 --dir "$shared"
    if out=$($t "$L/tftp" get "127.0.0.1:$port" random.bin -o "$got/a.bin" -q 2>&1) &&
        out=$($t "$L/tftp" get "127.0.0.1:$port" random.bin -o "$got/b.bin" -q --blksize 1428 --windowsize 16 2>&1) &&
        cmp -s "$shared/random.bin" "$got/a.bin" && cmp -s "$shared/random.bin" "$got/b.bin"; then
        ok "tftp.exe serve sends a file to the Linux tftp get, one block at a time and 16 at a time, byte for byte"
    else
        fail "tftp.exe serve sends a file to the Linux tftp get" "$out"
    fi
    out=$($t "$L/tftp" get "127.0.0.1:$port" nul.txt -o "$got/nul" 2>&1 || true)
    if [[ $out == *"ERROR 2"* ]]; then
        ok "tftp.exe serve refuses the name nul.txt (a Windows device) with ERROR 2"
    else
        fail "tftp.exe serve refuses nul.txt" "$out"
    fi
    stop "$server_pid" "$work/tftp-serve.out" "tftp.exe serve"
    start "$work/tftp-serve-linux.out" "$L/tftp" serve 127.0.0.1:0 --dir "$shared" --allow-write
    if out=$($t wine "$W/tftp.exe" get "127.0.0.1:$port" random.bin -o "$got/c.bin" --windowsize 8 --no-progress 2>&1) &&
        out=$($t wine "$W/tftp.exe" put "127.0.0.1:$port" "$got/c.bin" --as up.bin --no-progress 2>&1) &&
        cmp -s "$shared/random.bin" "$got/c.bin" && cmp -s "$shared/random.bin" "$shared/up.bin"; then
        ok "tftp.exe get and put move a file to and from the Linux tftp serve, byte for byte"
    else
        fail "tftp.exe get and put talk to the Linux tftp serve" "$out"
    fi
    stop "$server_pid" "$work/tftp-serve-linux.out" "tftp serve (Linux)"

    # What the Windows programs said, for the book: their start-up lines, a cut datagram,
    # a refused device name. Times, ports and folders normalised as docs/transcripts.sh does.
    {
        grep -h -E "listening on|warning: limits" "$work/tcp-server-thread.out" "$work/tcp-server-poll.out"
        grep -E "listening on|truncated" "$work/udp-server.out"
        grep -E "listening on|ERR BAD_NAME the name is a Windows device" "$work/upload-serve.out" | head -2
    } | tr -d '\r' | python3 -c '
import re, sys
text = sys.stdin.read()
text = re.sub(r"\b\d\d:\d\d:\d\d\.\d{3}\b", "hh:mm:ss.mmm", text)
text = re.sub(r"folder [^,]*received-by-windows", r"folder C:\\Users\\student\\uploads", text)
text = re.sub(r"\b\d+\.\d+ s\b", "#.# s", text)
text = re.sub(r"listening on 127\.0\.0\.1:\d+", "listening on 127.0.0.1:9999", text)
ports = {}
def number(m):
    p = m.group(1)
    if p == "9999":
        return m.group(0)
    if p not in ports:
        ports[p] = str(50001 + len(ports))
    return "127.0.0.1:" + ports[p]
text = re.sub(r"127\.0\.0\.1:(\d+)", number, text)
sys.stdout.write(text)
' >"$work/systems-windows.txt"
    local book=docs/src/transcripts/systems-windows.txt
    if [[ $what == transcript ]]; then
        cp "$work/systems-windows.txt" "$book"
        echo "wrote $book"
    elif diff -u "$book" "$work/systems-windows.txt"; then
        ok "the book's Windows transcript ($book) is what the programs print"
    else
        fail "the book's Windows transcript" "out of date: run bash .ci/wine.sh transcript and commit it"
    fi

    echo "wine interop: $passed passed, $failed failed"
    [[ $failed -eq 0 ]]
}

# ---- the crates' own tests, built for Windows, run under Wine --------------------------
tests() {
    echo "== the crates' tests, built for Windows, under Wine"
    echo "   (tests that need Unix tools skip with a printed reason; those Wine cannot run"
    echo "   are listed as ignored, with the reason)"
    local log=$root/target/wine/tests.log
    local code=0
    # Nothing may skip here either, but for the allowed skips (common::testing::
    # ALLOWED_SKIPS): a test that needs a Unix tool skips under its allowance, by name.
    SOCKETS_LAB_NO_SKIP=1 cargo test --workspace --no-fail-fast --target $target -- --show-output >"$log" 2>&1 || code=$?
    # Wine's own client-server link can break under load ("wine client error: recvmsg"),
    # which ends a test binary without any test failing: say so, and run them once more.
    if ((code != 0)) && grep -q "^wine client error" "$log"; then
        echo "   wineserver broke off (not a test failure): $(grep -m1 '^wine client error' "$log"); running the tests once more"
        code=0
        SOCKETS_LAB_NO_SKIP=1 cargo test --workspace --no-fail-fast --target $target -- --show-output >"$log" 2>&1 || code=$?
    fi
    grep -E "^test result|^test .*(FAILED|ignored)|^failures:|panicked" "$log" || true
    # The tests that returned early because a Unix tool is missing, by name and reason.
    echo "== tests that skipped under Wine, each under its allowance (they run on Linux in the same CI run):"
    # (common::testing::skip_allowed writes "TEST: skipped (allowed: NAME): REASON" past
    # the harness's capture.)
    grep -E ": skipped \(allowed: " "$log" | sed 's/^/   /' | sort -u || true
    echo "   (full output: $log)"
    return $code
}

setup_prefix
case $what in
    all) interop && tests ;;
    interop | transcript) interop ;;
    tests) tests ;;
    *) echo "usage: $0 [all|interop|tests|transcript]" >&2; exit 2 ;;
esac
