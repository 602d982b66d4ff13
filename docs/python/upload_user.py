#encoding: utf-8
'''
例子: TCP实现向服务器上传图片 -- 客户端
(the tutorial's upload client, ported to run under Python 3)

Faithful to the tutorial: its bugs are kept on purpose and
marked "BUG". Our changes are marked "CHANGED" (only what
Python 3 and the tests need).
Run:  python3 -u docs/python/upload_user.py [PORT] [FILE]
      (default 9999 and yan.jpg)
'''
import socket
import os
import sys

# CHANGED: the tutorial hard-codes 9999 and yan.jpg
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
FILE = sys.argv[2] if len(sys.argv) > 2 else "yan.jpg"

# ANCHOR: program
s = socket.socket() # 创建
# BUG: no timeout: if the server never answers, every
#      recv() below waits forever.
s.connect(("127.0.0.1",PORT)) # 连接
# CHANGED: decode, so Python 3 prints 文件上传 and not
#          b'\xe6...'
print(s.recv(1024).decode())
size = os.stat(FILE).st_size # 获取文件大小
# BUG: send() may send only part of the bytes (sendall
#      would not).
# CHANGED: Python 3 needs bytes (Python 2: bytes(str(size)))
s.send(str(size).encode()) # 发送文件大小
print(s.recv(1024).decode())  # CHANGED: decode, as above
with open(FILE,"rb") as f:
    # BUG: a binary file read "by lines": the chunks are cut
    #      at every b'\n' byte, so a photo is sent in
    #      thousands of pieces of random size, one system
    #      call each (slow).
    for line in f:
        # BUG: send() may send only part of each piece, and
        #      nothing notices: the server then waits forever
        #      for the missing bytes.
        s.send(line)
# BUG: the reply is not checked: any answer, or none, looks
#      like success. No checksum either.
print(s.recv(1024).decode())  # CHANGED: decode, as above
# ANCHOR_END: program
