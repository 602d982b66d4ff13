#!/usr/bin/env bash
# docs/two-hosts.sh — two "machines" on one Linux host: the network namespaces lab-left
# (10.99.0.1) and lab-right (10.99.0.2), joined by a virtual cable (a veth pair).
#
#   sudo docs/two-hosts.sh up                      # make them
#   sudo docs/two-hosts.sh impair 50ms 10%         # delay and loss on the cable (both ways)
#   sudo docs/two-hosts.sh down                    # remove them
#
# Then: sudo ip netns exec lab-left tcp-server 10.99.0.1:9999, and in another terminal
# sudo ip netns exec lab-right tcp-client 10.99.0.1:9999. The book's teacher page quotes
# the commands below (between the ANCHOR lines).
set -euo pipefail

case ${1:-} in
    up)
        # ANCHOR: make
        # Two network namespaces: each has its own interfaces, addresses, routes and ports.
        ip netns add lab-left
        ip netns add lab-right
        # A virtual cable: a pair of interfaces, what goes in one comes out of the other.
        ip link add lab-veth-l type veth peer name lab-veth-r
        ip link set lab-veth-l netns lab-left
        ip link set lab-veth-r netns lab-right
        # An address at each end, on the same subnet; then switch everything on.
        ip -n lab-left addr add 10.99.0.1/24 dev lab-veth-l
        ip -n lab-right addr add 10.99.0.2/24 dev lab-veth-r
        ip -n lab-left link set lab-veth-l up
        ip -n lab-right link set lab-veth-r up
        ip -n lab-left link set lo up
        ip -n lab-right link set lo up
        # ANCHOR_END: make
        ;;
    impair)
        delay=${2:-50ms} loss=${3:-10%}
        # ANCHOR: impair
        # netem on both ends: every packet waits $delay (±10 ms), $loss of them vanish.
        ip netns exec lab-left tc qdisc replace dev lab-veth-l root netem delay "$delay" 10ms loss "$loss"
        ip netns exec lab-right tc qdisc replace dev lab-veth-r root netem delay "$delay" 10ms loss "$loss"
        # ANCHOR_END: impair
        ;;
    down)
        # ANCHOR: remove
        # Removing a namespace removes its end of the cable, and so the whole cable.
        ip netns del lab-left
        ip netns del lab-right
        # ANCHOR_END: remove
        ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 2
        ;;
esac
