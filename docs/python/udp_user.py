#encoding: utf-8
'''
udp.py UDP服务器
udp_user.py UDP客户端
用法:
接收服务器数据:s.recv(1024)
向服务器发数据: s.sendto(content, addr)

The tutorial's UDP client, ported to run under Python 3.
Faithful to the tutorial: its bugs are kept on purpose and
marked "BUG". Our changes are marked "CHANGED".
Run:  python3 -u docs/python/udp_user.py [PORT]
      (default 9999)
'''
import socket
import sys

# CHANGED: the tutorial hard-codes 9999
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999

# ANCHOR: program
# 创建一个基于UDP的socket对象
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# 向指定服务器与端口号发送内容
s.sendto('hello!'.encode(), ('127.0.0.1', PORT))
# BUG: no timeout: if the datagram or its reply is lost,
#      this waits forever.
print(s.recv(1024)) # 接收服务器返回的内容
s.close() # 关闭连接
# ANCHOR_END: program
