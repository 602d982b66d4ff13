#!/usr/bin/env bash
# docs/cable-pictures.sh — the captures and pictures of the pages "The cable" and "Inside
# TCP", made for real, each picture in English and in Chinese (docs/src/images/):
# - a hello session across the cable and its ladder diagram (the capture is small enough
#   to keep, for Wireshark: docs/src/captures/hello.pcapng);
# - a handshake whose first three SYNs are lost, and its ladder (captures/syn-lost.pcapng);
# - a 2 MiB upload through a 20 Mbit/s bottleneck with 1% loss: its time-sequence graph,
#   with the sender's cwnd from upload send --tcp-info;
# - a 3 MiB upload to a server that stops reading for two seconds: the zero window.
#
#   docs/cable-pictures.sh        # Linux, as an ordinary user or as root
#
# Every ISN differs from run to run, and so do the times: the pictures change each time
# they are made, while what they show does not.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p cable -p tcp-server -p tcp-client -p upload
export PATH="$PWD/target/debug:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The cable's own lines (its banner and summary) go to the page too, as they came.
# ANCHOR: hello
cable run --delay 10ms --seed 1 --pcap docs/src/captures/hello.pcapng \
    --left 'tcp-server $LEFT:9999' --right 'tcp-client $LEFT:9999' 2>"$work/hello.err"
cable draw docs/src/captures/hello.pcapng -o docs/src/images/cable-hello.svg
# ANCHOR_END: hello
grep '^cable: \|^  \|^    ' "$work/hello.err" >docs/src/captures/hello-cable.txt
cable draw docs/src/captures/hello.pcapng --lang zh-CN -o docs/src/images/cable-hello.zh-CN.svg

# Linux (6.7 and later) first retries a SYN 4 times a second apart
# (net.ipv4.tcp_syn_linear_timeouts), then doubles; 0 makes it double from the start, as
# RFC 6298 has it. The setting is the right side's own (each namespace has its own).
# ANCHOR: syn
cable run --drop-syn 0:3 --pcap docs/src/captures/syn-lost.pcapng \
    --left 'tcp-server $LEFT:9999' \
    --right 'echo 0 >/proc/sys/net/ipv4/tcp_syn_linear_timeouts; tcp-client $LEFT:9999 --connect-timeout 20'
cable draw docs/src/captures/syn-lost.pcapng --max 8 -o docs/src/images/tcp-syn-lost.svg
# ANCHOR_END: syn
cable draw docs/src/captures/syn-lost.pcapng --max 8 --lang zh-CN -o docs/src/images/tcp-syn-lost.zh-CN.svg

head -c $((2 << 20)) /dev/urandom >"$work/photo.bin"
# ANCHOR: bulk
cable run --delay 10ms --rate 20mbit --queue 30 --loss 1% --seed 7 --pcap "$work/bulk.pcapng" \
    --left "upload serve \$LEFT:9000 --dir $work/store --no-progress >&2" \
    --right "upload send $work/photo.bin --to \$LEFT:9000 --no-progress --tcp-info --tcp-info-interval 20 --json" \
    >"$work/send.json"
cable draw "$work/bulk.pcapng" --time-seq --cwnd "$work/send.json" -o docs/src/images/cable-upload.svg
# ANCHOR_END: bulk
cable draw "$work/bulk.pcapng" --time-seq --cwnd "$work/send.json" --lang zh-CN -o docs/src/images/cable-upload.zh-CN.svg

head -c $((3 << 20)) /dev/urandom >"$work/big.bin"
# The left side's receive buffers are made small (64 KiB at most), so that a reader
# that stops fills them within a round trip or two.
# ANCHOR: window
cable run --delay 20ms --pcap "$work/window.pcapng" \
    --left "echo '4096 65536 65536' >/proc/sys/net/ipv4/tcp_rmem
            upload serve \$LEFT:9000 --dir $work/store2 --no-progress & server=\$!
            sleep 1; kill -STOP \$server; sleep 2; kill -CONT \$server; wait \$server" \
    --right "upload send $work/big.bin --to \$LEFT:9000 --no-progress"
cable draw "$work/window.pcapng" --time-seq -o docs/src/images/tcp-zero-window.svg
# ANCHOR_END: window
cable draw "$work/window.pcapng" --time-seq --lang zh-CN -o docs/src/images/tcp-zero-window.zh-CN.svg
tcpdump -n -r "$work/window.pcapng" 2>/dev/null | grep -E 'win 0,|length 1$' | head -8 >docs/src/captures/zero-window.txt || true
