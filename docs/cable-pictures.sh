#!/usr/bin/env bash
# docs/cable-pictures.sh — the cable page's captures and pictures, made for real: a hello
# session across the cable (docs/src/captures/hello.pcapng, small enough to keep, for
# Wireshark), its ladder diagram, and a time-sequence graph of a 2 MiB upload through a
# 20 Mbit/s bottleneck with 1% loss, each in English and in Chinese (docs/src/images/).
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

head -c $((2 << 20)) /dev/urandom >"$work/photo.bin"
# ANCHOR: bulk
cable run --delay 10ms --rate 20mbit --queue 30 --loss 1% --seed 7 --pcap "$work/bulk.pcapng" \
    --left "upload serve \$LEFT:9000 --dir $work/store --no-progress" \
    --right "upload send $work/photo.bin --to \$LEFT:9000 --no-progress"
cable draw "$work/bulk.pcapng" --time-seq -o docs/src/images/cable-upload.svg
# ANCHOR_END: bulk
cable draw "$work/bulk.pcapng" --time-seq --lang zh-CN -o docs/src/images/cable-upload.zh-CN.svg
