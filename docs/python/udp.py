#encoding: utf-8
'''
udp.py UDP服务器 (the tutorial's UDP server, ported to run under Python 3)
udp_user.py UDP客户端
用法:
接收客户端数据:s.recvfrom(1024)
向客户端发数据: s.sendto(content, addr)

Faithful to the tutorial: its bugs are kept on purpose and marked "BUG".
Our changes are marked "CHANGED" (only what tests need: the port, and printing it).
Run:  python3 -u docs/python/udp.py [PORT]      (default 9999, 0 = any free port)
'''
import socket
import sys
import threading

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999  # CHANGED: the tutorial hard-codes 9999

# ANCHOR: program
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) # 创建一个基于UDP的socket对象
s.bind(('127.0.0.1', PORT)) # 绑定地址与端口
print('Listening for datagrams on port {}'.format(s.getsockname()[1]))  # CHANGED: prints the port

def fun(data, addr):
    print('from {},content is {}'.format(addr, data))
    # BUG: formats the bytes object itself: the reply is "Hi!b'hello!'", not "Hi!hello!".
    s.sendto('Hi!{}'.format(data).encode(), addr) # 向客户端返回内容

while True:
    # BUG: recvfrom(1024) silently cuts any larger datagram to 1024 bytes; nobody is told.
    data, addr = s.recvfrom(1024) #接受客户端发送的内容,创建新线程处理
    # BUG: a new thread for every datagram costs far more than the work it does.
    t = threading.Thread(target=fun, args=(data,addr))
    t.start() # 启动线程
# ANCHOR_END: program
