# Lesson: TCP is a byte stream: three messages in one write, one message in two
server "tcp-server $ADDR --framing raw"
# Three messages written at once: the raw server reads them as one.
client "printf 'li\nbo\nca\n' | nc -N 127.0.0.1 $PORT; echo"
# One message written in two parts: the raw server reads two.
client "(printf 'hel'; sleep 0.5; printf 'lo\n') | nc -N 127.0.0.1 $PORT; echo"
stop
server "tcp-server $ADDR"
client "printf 'li\nbo\nca\n' | nc -N 127.0.0.1 $PORT"
client "(printf 'hel'; sleep 0.5; printf 'lo\n') | nc -N 127.0.0.1 $PORT"
stop
