# Lesson: TCP vs UDP: the same port number twice, a connection against datagrams
server "tcp-server $ADDR"
server "udp-server $ADDR"
side "ss -tuln '( sport = :$PORT )'"
client "tcp-client $ADDR --trace li exit"
client "udp-client $ADDR --trace"
stop
