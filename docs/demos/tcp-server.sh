# Lesson: The TCP server: the tutorial's tcp.py against tcp-server, graded by tcp-client --check
# The tutorial's server has no line ends, so the check uses its raw framing.
server "python3 -u tcp.py $PORT"
client "tcp-client $ADDR --framing raw --check"
stop
server "tcp-server $ADDR"
client "tcp-client $ADDR --check"
client "printf 'li\nbo\nexit\n' | nc -N 127.0.0.1 $PORT"
stop
