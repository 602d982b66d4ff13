#encoding: utf-8
'''
udp.py UDP服务器
udp_user.py UDP客户端
用法:
接收客户端数据:s.recvfrom(1024)
向客户端发数据: s.sendto(content, addr)

The tutorial's UDP server, ported to run under Python 3.
Faithful to the tutorial: its bugs are kept on purpose and
marked "BUG". Our changes are marked "CHANGED" (only what
tests need: the port, and printing it).
Run:  python3 -u docs/python/udp.py [PORT]
      (default 9999, 0 = any free port)
'''
import socket
import sys
import threading

# CHANGED: the tutorial hard-codes 9999
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999

# ANCHOR: program
# 创建一个基于UDP的socket对象
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', PORT)) # 绑定地址与端口
# CHANGED: prints the port
port = s.getsockname()[1]
print('Listening for datagrams on port {}'.format(port))

def fun(data, addr):
    print('from {},content is {}'.format(addr, data))
    # BUG: formats the bytes object itself: the reply is
    #      "Hi!b'hello!'", not "Hi!hello!".
    # 向客户端返回内容
    s.sendto('Hi!{}'.format(data).encode(), addr)

while True:
    # BUG: recvfrom(1024) silently cuts any larger datagram
    #      to 1024 bytes; nobody is told.
    #接受客户端发送的内容,创建新线程处理
    data, addr = s.recvfrom(1024)
    # BUG: a new thread for every datagram costs far more
    #      than the work it does.
    t = threading.Thread(target=fun, args=(data,addr))
    t.start() # 启动线程
# ANCHOR_END: program
