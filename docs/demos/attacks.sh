# Lesson: Attacks and defenses: a connection flood and slowloris, against the tutorial's server and ours
# The tutorial's server, with a small open-file limit (16), meets 30 connections at once
# (its line per connection is left out: only its error shows). Each flood client gives up
# after 6 s (nc -w 6), so that none still knocking reaches the next server on this port.
server "bash -c 'ulimit -n 16; exec python3 -u tcp.py $PORT' >/dev/null"
client "for i in \$(seq 30); do (sleep 10 | nc -N -w 6 127.0.0.1 $PORT) >/dev/null 2>&1 & done; sleep 2"
client "tcp-client 127.0.0.1:$PORT --framing raw --connect-timeout 2"
pause 3
stop
# Ours, on IPv4 and IPv6 at once: 100 connections from 127.0.0.1, then another host, ::1.
# The attacker is on this machine: --limit-loopback, so that the limit per address covers
# it (by default this machine's own clients are exempt).
server "tcp-server [::]:$PORT -q --limit-loopback"
client "for i in \$(seq 100); do (sleep 3 | nc -N 127.0.0.1 $PORT) >/dev/null 2>&1 & done; sleep 1"
client "tcp-client [::1]:$PORT li exit"
client "tcp-client 127.0.0.1:$PORT li exit"
pause 3
stop
# Slowloris: two bytes every 0.8 s, never a whole message. The idle timeout (300 s) never fires.
server "tcp-server $ADDR --message-timeout 2"
client "(for part in sl ow lo ri s; do printf \$part; sleep 0.8; done) | nc 127.0.0.1 $PORT"
stop
