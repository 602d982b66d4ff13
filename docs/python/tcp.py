#encoding: utf-8
'''
tcp.py 为服务器端
tcp_user.py 为客户端
用法:
接收客户端数据:sock.recv( 1024 )
向客户端发数据:sock.send( content )

The tutorial's TCP server, ported to run under Python 3.
Faithful to the tutorial: its bugs are kept on purpose and
marked "BUG". Our changes are marked "CHANGED" (only what
tests need: the port, and printing it). The tutorial's own
comments (Chinese) are kept word for word; the long ones
stand on lines of their own, so that the code fits the
book's panes.
Run:  python3 -u docs/python/tcp.py [PORT]
      (default 9999, 0 = any free port)
'''
import socket
import sys
import threading

# CHANGED: the tutorial hard-codes 9999
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999

# ANCHOR: setup
# 创建一个基于TCP(SOCK_STREAM)连接的socket对象,
# 指定使用AF_INET协议(IPv4,AF_INET6为AF_INET6)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# BUG: no SO_REUSEADDR, so a restart fails with "Address
#      already in use" while the old connections are in
#      TIME_WAIT.
s.bind(('127.0.0.1', PORT)) # 绑定地址和端口
# 开始监听端口,参数是挂起连接队列的最大长度。
s.listen(5)
# ANCHOR_END: setup

# ANCHOR: handler
def fun(sock, addr):
    print('Accept new connection from {}'.format(addr))
    # BUG: send() may send only part of the bytes (sendall
    #      would not)
    sock.send('Hello!'.encode())
    while True:
        # BUG: one recv() is taken as one message, but TCP
        #      is a byte stream: two messages can arrive in
        #      one recv, or one message in two.
        # BUG: no timeout: a client that sends nothing
        #      holds this thread forever.
        data = sock.recv(1024)
        # BUG: data is bytes and 'exit' is a str: in
        #      Python 3 they are never equal, so "exit"
        #      never ends the connection; only the client
        #      closing does (not data).
        if data == 'exit' or not data:
            break
        # BUG: formats the bytes object itself: the reply
        #      is "hello,b'li'", not "hello,li".
        sock.send('hello,{}'.format(data).encode())
    sock.close()
    print('Connection closed {}'.format(addr))
# ANCHOR_END: handler

# 服务器程序通过一个永久循环来接受来自客户端的连接,
# accept()会等待并返回一个客户端的连接。
# ANCHOR: accept_loop
# CHANGED: prints the port
port = s.getsockname()[1]
print('Waiting for connection... on port {}'.format(port))
while True:
    # BUG: at the open-file limit accept() raises OSError
    #      (EMFILE) and the loop dies.
    # 一个socket对象 和 请求连接的客户端地址
    sock, addr = s.accept()
    # BUG: a new thread per client, with no limit.
    # 创建新线程(或进程)来处理TCP连接,否则,
    # 单线程在处理连接的过程中,无法接受其他客户端的连接。
    t = threading.Thread( target=fun, args=(sock,addr) )
    t.start() # 启动线程
# ANCHOR_END: accept_loop
