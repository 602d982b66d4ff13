#encoding: utf-8
'''
tcp_asyncio.py: the tutorial's TCP server (tcp.py), in one
thread, with asyncio.

The tutorial says: 每个连接都需要一个新的进程或者新的线程来
处理,否则,服务器一次就只能服务一个客户端了 (every connection
needs a new process or thread, or else the server can serve
only one client at a time). This is the same server with no
thread per client: asyncio's event loop waits for every
socket at once (epoll, kqueue, or IOCP on Windows), and each
`await` hands the loop to the other clients until this one's
bytes arrive. It is what `tcp-server --model poll` does, the
Python student's way.

Unlike tcp.py, this one speaks the course's hello protocol
correctly (the bugs of tcp.py are the lessons of earlier
chapters): one message per line, bytes compared with bytes,
the reply without b'...', a limit on a line's length, an
idle timeout, and back-pressure. `tcp-client --check` passes
on it.

Run:  python3 -u docs/python/tcp_asyncio.py [PORT]
      (default 9999, 0 = any free port)
'''
import asyncio
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
IDLE_TIMEOUT = 300  # seconds a client may stay silent
# The longest message accepted, in bytes (as tcp-server's
# --max-frame).
MAX_LINE = 65536
BACKLOG = 128


# ANCHOR: handler
async def fun(reader, writer):
    addr = writer.get_extra_info('peername')
    print('Accept new connection from {}'.format(addr))
    writer.write(b'Hello!\n')
    try:
        while True:
            # await: until this client's line arrives, the
            # loop serves the others.
            line = await asyncio.wait_for(
                reader.readline(), IDLE_TIMEOUT)
            # The client closed (mid-line or not).
            if not line.endswith(b'\n'):
                break
            data = line.rstrip(b'\r\n')
            if data == b'exit':  # bytes compared with bytes
                break
            writer.write(b'hello,' + data + b'\n')
            # Back-pressure: wait here while the client does
            # not read its replies.
            await writer.drain()
    except (asyncio.TimeoutError, ValueError,
            ConnectionError):
        # Silent too long, a line over MAX_LINE (ValueError),
        # or a reset.
        pass
    finally:
        writer.close()
    print('Connection closed {}'.format(addr))
# ANCHOR_END: handler


# ANCHOR: accept_loop
async def main():
    # socket, SO_REUSEADDR, bind, listen, then accept()
    # whenever the loop says a client waits: start_server
    # does all of it, and runs fun() for each client as a
    # task.
    server = await asyncio.start_server(
        fun, '127.0.0.1', PORT, backlog=BACKLOG,
        reuse_address=True, limit=MAX_LINE)
    port = server.sockets[0].getsockname()[1]
    print('Waiting for connection... on port {}'.format(port))
    async with server:
        await server.serve_forever()
# ANCHOR_END: accept_loop

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print('stopped')
