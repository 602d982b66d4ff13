# Lesson: Backlog, SO_REUSEADDR and TIME_WAIT: restarting a server, and a server too slow to accept
server "tcp-server $ADDR"
client "printf 'li\nexit\n' | nc 127.0.0.1 $PORT"
stop
# The server closed first (on exit), so its side of the connection waits in TIME_WAIT.
side "ss -tan state time-wait '( sport = :$PORT )'"
# With SO_REUSEADDR (the default) the restart works at once.
server "tcp-server $ADDR"
side "ss -ltn '( sport = :$PORT )'"
stop
# A server too slow to accept: frozen while 20 clients connect.
server "tcp-server $ADDR --backlog 5 -q"
freeze
client "for i in \$(seq 20); do tcp-client -q $ADDR --connect-timeout 10 li exit >/dev/null 2>&1 & done; sleep 1.5"
side "ss -ltn '( sport = :$PORT )'; echo \"waiting to connect: \$(ss -Htn state syn-sent '( dport = :$PORT )' | wc -l)\""
thaw
# The 14 dropped SYNs are retried 1 s, 3 s and 7 s after the first: wait for the last retry.
pause 8
stop
server "tcp-server $ADDR --backlog 128 -q"
freeze
client "for i in \$(seq 20); do tcp-client -q $ADDR --connect-timeout 10 li exit >/dev/null 2>&1 & done; sleep 1.5"
side "ss -ltn '( sport = :$PORT )'; echo \"waiting to connect: \$(ss -Htn state syn-sent '( dport = :$PORT )' | wc -l)\""
thaw
pause 1
stop
# Without SO_REUSEADDR, as the tutorial: the TIME_WAIT entries above block the port.
server "tcp-server $ADDR --no-reuse-addr"
