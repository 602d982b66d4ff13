#encoding: utf-8
'''
tftp_server.py  TFTP服务器(RFC 1350,只读,octet模式)
tftp_sas.py     同一个服务器,带着"魔法师的学徒"错误

用法:
python3 -u docs/python/tftp_server.py [PORT] [DIR]
    (默认 6969 和当前文件夹; 0 = 任意空闲端口)
tftp get 127.0.0.1:6969 FILE

The answer key of the lab "Reliable delivery over UDP": a TFTP
server in the tutorial's style (a socket, a thread per client),
small enough to read in one sitting, correct enough that
`tftp get --check` passes it. Where a first attempt usually goes
wrong is marked "NOTE". tftp_sas.py runs it with the one bug
the lesson is about turned on (APPRENTICE).
'''
import os
import socket
import struct
import sys
import threading

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 6969
ROOT = sys.argv[2] if len(sys.argv) > 2 else '.'
BLOCK = 512       # RFC 1350 的块大小
TIMEOUT = 1.0     # 等 ACK 的秒数
RETRIES = 5       # 重传几次后放弃
# tftp_sas.py 把它设为 True: 每个 ACK 都回一个数据块, 重复的也回
APPRENTICE = False

DATA, ACK, ERROR = 3, 4, 5

def error(sock, addr, code, message):
    # ERROR: 操作码 5, 错误码, 消息, 一个 0 字节
    sock.sendto(struct.pack('!HH', ERROR, code) + message.encode() + b'\0', addr)

def data(block, payload):
    # NOTE: 块号只有 16 位: 第 65536 块在线路上是 0 (翻转)
    return struct.pack('!HH', DATA, block & 0xFFFF) + payload

# ANCHOR: send_file
def send_file(addr, path):
    # 每次传输一个新的套接字, 一个新端口: 这次传输的 TID
    t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t.bind((HOST, 0))
    t.settimeout(TIMEOUT)
    f = open(path, 'rb')
    block = 1
    payload = f.read(BLOCK)
    t.sendto(data(block, payload), addr)
    tries = 0
    while True:
        try:
            packet, source = t.recvfrom(1024)
        except socket.timeout:
            # 没有 ACK: 重传这一块, 次数有限
            tries += 1
            if tries > RETRIES:
                break
            t.sendto(data(block, payload), addr)
            continue
        if source != addr:
            # NOTE: 别的端口发来的包不属于这次传输: 回 ERROR 5, 传输继续
            error(t, source, 5, 'unknown transfer ID')
            continue
        if len(packet) < 4:
            continue
        opcode, number = struct.unpack('!HH', packet[:4])
        if opcode == ERROR:
            break
        if opcode != ACK:
            continue
        if number == block & 0xFFFF:
            # 这一块到了: 最后一块(不满 512 字节)就结束, 否则发下一块
            if len(payload) < BLOCK:
                break
            block += 1
            payload = f.read(BLOCK)
            tries = 0
            t.sendto(data(block, payload), addr)
        elif APPRENTICE and number == (block - 1) & 0xFFFF:
            # BUG (tftp_sas.py): 重复的 ACK 也回一块。晚到的 ACK 和重传
            #      交叉之后, 每一块都发两次, 两份各得一个 ACK, 一直这样下去。
            t.sendto(data(block, payload), addr)
        # NOTE: 其余的 ACK 什么都不带来: 不回。只有计时器才重传。
    f.close()
    t.close()
# ANCHOR_END: send_file

def allowed(name):
    # NOTE: 只接受文件夹里的一个普通文件名: 没有路径, 不以 . 开头
    return name != '' and '/' not in name and '\\' not in name and not name.startswith('.')

def serve(request, addr):
    opcode = struct.unpack('!H', request[:2])[0]
    parts = request[2:].split(b'\0')
    if opcode == 2:
        error(s, addr, 2, 'this server only reads')
        return
    if opcode != 1 or len(parts) < 2:
        error(s, addr, 4, 'not a read request')
        return
    name = parts[0].decode('utf-8', 'replace')
    mode = parts[1].decode('ascii', 'replace').lower()
    if mode != 'octet':
        error(s, addr, 4, 'only octet mode')
        return
    if not allowed(name):
        error(s, addr, 2, 'not a plain file name')
        return
    path = os.path.join(ROOT, name)
    if not os.path.isfile(path):
        error(s, addr, 1, 'file not found')
        return
    send_file(addr, path)

HOST = '127.0.0.1'

def main():
    global s
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, PORT))
    if APPRENTICE:
        print('This server has the Sorcerer\'s Apprentice bug, on purpose')
    print('Serving folder {} over TFTP on port {}'.format(ROOT, s.getsockname()[1]))
    while True:
        request, addr = s.recvfrom(1024)
        if len(request) < 4:
            continue
        # 每个请求一个线程, 像教程的服务器一样
        threading.Thread(target=serve, args=(request, addr), daemon=True).start()

if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        print('stopped')
