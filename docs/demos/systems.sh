# Lesson: Same code, three systems: what Linux shows where Windows and macOS differ
server "tcp-server $ADDR"
# Linux: no second listener on a port that one listens on, SO_REUSEADDR or not (Windows' SO_REUSEADDR would allow it).
side "tcp-server $ADDR"
# The same failure has another number on each system: these are Linux's.
side "python3 -c 'import errno; print(\"ECONNREFUSED\", errno.ECONNREFUSED, \" EADDRINUSE\", errno.EADDRINUSE, \" ECONNRESET\", errno.ECONNRESET, \" EMSGSIZE\", errno.EMSGSIZE)'"
# The range this machine picks client ports from (Windows and macOS: 49152-65535).
side "cat /proc/sys/net/ipv4/ip_local_port_range"
stop
# A datagram cut by a small buffer: Linux tells how large it was; macOS and Windows only that it was cut.
server "udp-server $ADDR --buffer 1024"
client "udp-client $ADDR --count 1 --size 3000"
stop
# Nobody listens now: the ICMP "port unreachable" reaches the client's connected socket.
client "udp-client $ADDR hello! --retries 0"
# Names Windows cannot hold are refused on every system; the look-alike is fine.
server "upload serve $ADDR --dir uploads"
client "printf x > nul.txt; printf x > 'what?.txt'; printf x > console.txt; upload send nul.txt 'what?.txt' console.txt --to $ADDR"
stop
