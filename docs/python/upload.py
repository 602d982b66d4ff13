#encoding: utf-8
'''
例子: TCP实现向服务器上传图片 -- 服务器端
(the tutorial's upload server, ported to run under Python 3)

Faithful to the tutorial: its bugs are kept on purpose and
marked "BUG". Our changes are marked "CHANGED" (only what
Python 3 and the tests need).
Run:  python3 -u docs/python/upload.py [PORT]
      (default 9999, 0 = any free port)
It writes every upload to recv_yan.jpg in the current folder.
'''
import socket
import sys

# CHANGED: the tutorial hard-codes 9999
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999

# ANCHOR: program
s = socket.socket()
# BUG: no SO_REUSEADDR: a restart fails with "Address
#      already in use" during TIME_WAIT.
s.bind(("127.0.0.1", PORT)) # 绑定
s.listen(5) # 监听
# CHANGED: prints the port
port = s.getsockname()[1]
print('Waiting for an upload on port {}'.format(port))
# BUG: one client at a time: while one uploads, every other
#      client waits in the backlog.
while True:
    conn,address = s.accept()
    # BUG: no timeout: a client that connects and says
    #      nothing blocks the server forever.
    # CHANGED: Python 3 needs an encoding (Python 2:
    #          bytes("文件上传"))
    conn.send("文件上传".encode())
    # BUG: the size is not framed: this assumes one recv()
    #      returns exactly the digits.
    size = conn.recv(1024) # 得到文件大小
    # CHANGED: int(size), not int(str(size)): in Python 3,
    #          str(b'12') is "b'12'", not "12".
    # BUG: a size that is not digits raises ValueError and
    #      the whole server stops; a negative or huge size
    #      is accepted.
    file_size = int( size )
    conn.send("开始传送".encode())  # CHANGED: encoding
    has_size = 0
    # BUG: a fixed name: every upload overwrites the last
    #      one, and a half-received file sits under the real
    #      name while it arrives (or forever, if the client
    #      leaves).
    f = open("recv_yan.jpg","wb")
    while True:
        # BUG: == and not >=: if the client sends more than
        #      it announced, this is never true.
        # 判断接收的文件大小是否等于实际文件大小
        if file_size == has_size:
            break
        # BUG: when the client disconnects early, recv()
        #      returns b'' at once, every time: this loop
        #      then spins forever at 100% CPU and the server
        #      never serves anyone again.
        date = conn.recv(1024)
        f.write(date)
        has_size += len(date)
    # BUG: "done" is said before the file is closed
    #      (flushed): the client may look at a file that is
    #      not complete yet. And nothing checks the bytes
    #      (no checksum).
    conn.send('传送完成'.encode())  # CHANGED: encoding
    f.close()
    # BUG: conn is never closed (Python closes it when the
    #      name is reused for the next client).
# ANCHOR_END: program
