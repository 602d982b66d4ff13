# Lesson: Sockets and the 4-tuple: one server, two clients, four numbers per connection
server "tcp-server $ADDR"
client "tcp-client $ADDR"
# A client that stays connected while we look at the connection from outside.
client "{ (sleep 2; echo exit) | tcp-client -q -i $ADDR; } >/dev/null 2>&1 & sleep 0.5"
side "ss -tn state established '( sport = :$PORT )'"
pause 2
stop
