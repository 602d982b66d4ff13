#!/usr/bin/env bash
# docs/synflood.sh — a SYN flood, bounded, between two network namespaces of our own:
# hping3 in lab-right sends 5,000 SYNs from forged addresses at tcp-server in lab-left,
# nstat counts what the kernel did, and then a real client asks to be served.
#
#   sudo env PATH="$PATH" docs/synflood.sh [COOKIES] [MODEL]
#     COOKIES: 1 (SYN cookies on, the default) or 0; MODEL: thread (the default) or poll
#
# Needs Linux, root (or a private user namespace: the book's test runs it under
# `unshare --user --map-root-user --net --mount`), iproute2 and hping3, and the programs on
# PATH (cargo build; export PATH=$PWD/target/debug:$PATH). It makes the namespaces with
# docs/two-hosts.sh and removes them at the end; no packet leaves them.
set -euo pipefail
cd "$(dirname "$0")/.."
cookies=${1:-1}
model=${2:-thread}
SYNS=5000
trap 'kill -INT "${server:-0}" 2>/dev/null; docs/two-hosts.sh down 2>/dev/null || true' EXIT

docs/two-hosts.sh up
# ANCHOR: flood
# The server's side answers each SYN with a SYN-ACK; it needs a route back to the forged
# sources (they all lead into the cable, where nobody answers).
ip -n lab-left route add default dev lab-veth-l
ip netns exec lab-left sysctl -q -w net.ipv4.tcp_syncookies="$cookies"
ip netns exec lab-left tcp-server 10.99.0.1:9999 --backlog 16 --model "$model" -q &
server=$!
for _ in $(seq 100); do
    ip netns exec lab-left ss -Hltn '( sport = :9999 )' | grep -q LISTEN && break
    sleep 0.05
done
ip netns exec lab-left nstat -n                     # counters from zero
# 5,000 SYNs, one every 200 µs (a second in all), each from a random forged address...
ip netns exec lab-right hping3 -q -S -p 9999 -i u200 -c "$SYNS" --rand-source 10.99.0.1 2>/dev/null &
flood=$!
sleep 0.3
# ...and, in the middle of it, a real client from the other side of the cable.
started=$(date +%s%N)
ip netns exec lab-right tcp-client 10.99.0.1:9999 li exit --connect-timeout 5 -q || true
echo "the real client took $(( ($(date +%s%N) - started) / 1000000 )) ms"
wait "$flood" || true
ip netns exec lab-left nstat -az TcpExtSyncookiesSent TcpExtListenDrops TcpExtTCPReqQFullDrop
# ANCHOR_END: flood
