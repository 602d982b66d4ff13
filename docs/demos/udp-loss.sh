# Lesson: UDP loss, timeouts and retries: a server that drops on purpose
server "udp-server $ADDR --drop 0.3 --seed 7"
client "udp-client $ADDR --timeout 0.2"
client "udp-client $ADDR --timeout 0.2 --retries 5"
client "udp-client $ADDR --count 20 --interval 0 --timeout 0.2"
stop
client "udp-client $ADDR --timeout 0.5"
