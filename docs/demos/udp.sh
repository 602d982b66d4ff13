# Lesson: UDP: datagrams, truncation, a thread per datagram
server "udp-server $ADDR --buffer 1024"
client "udp-client $ADDR"
client "python3 udp_user.py $PORT"
client "udp-client $ADDR --count 1 --size 1500"
stop
server "udp-server $ADDR --handler thread"
client "udp-client $ADDR hello! again!"
stop
