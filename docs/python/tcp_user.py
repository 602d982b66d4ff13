#encoding: utf-8
'''
tcp.py 为服务器端
tcp_user.py 为客户端
用法:
接收服务器数据:s.recv( 1024 )
向服务器发数据:s.send( content )

The tutorial's TCP client, ported to run under Python 3.
Faithful to the tutorial: its bugs are kept on purpose and
marked "BUG". Our changes are marked "CHANGED".
Run:  python3 -u docs/python/tcp_user.py [PORT]
      (default 9999)
'''
import socket
import sys

# CHANGED: the tutorial hard-codes 9999
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999

# ANCHOR: program
# 创建一个基于TCP连接的Socket对象
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# BUG: no timeout: if the server never answers, recv()
#      below waits forever.
# 连接到指定地址和端口,参数是tuple类型
s.connect(('127.0.0.1', PORT))
print(s.recv(1024))
for data in ['li','bo','ca']:
    # BUG: send() may send only part (sendall would not)
    s.send(data.encode()) # 向服务器发送数据
    # BUG: one recv() is taken as one reply: replies can
    #      merge or split on the way.
    print(s.recv(1024)) # 每次最多接收1024b(1kb)
s.send('exit'.encode())
s.close() # 关闭连接
# ANCHOR_END: program
