# Lesson: The TCP client: the tutorial's tcp_user.py and tcp-client, and what goes over the wire
# The tutorial's client sends "li" with no line end, so it needs the tutorial's raw framing.
server "tcp-server $ADDR --framing raw"
client "python3 tcp_user.py $PORT"
stop
server "tcp-server $ADDR"
client "tcp-client $ADDR --trace li exit"
client "tcp-client 127.0.0.1:1"
stop
