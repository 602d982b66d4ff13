# Lesson: One thread, many clients: 10,000 idle clients, a thread for each or one thread for all
# The thread model (the default): 10,000 idle clients, then a round trip on each. `hold`
# finds the server by its port and reads its threads and memory in /proc.
server "tcp-server $ADDR -q --max-connections 11000"
client "hold $ADDR --connections 10000 --summary"
stop
# The same clients, one thread for all of them: readiness events.
server "tcp-server $ADDR -q --model poll --max-connections 11000"
client "hold $ADDR --connections 10000 --summary"
stop
# The tutorial's server with asyncio: one thread too (its soft open-file limit raised to
# the hard one, as tcp-server does; its line per connection is left out).
server "bash -c 'ulimit -n \$(ulimit -Hn); exec python3 -u tcp_asyncio.py $PORT' >/dev/null"
client "hold $ADDR --connections 10000 --summary"
stop
