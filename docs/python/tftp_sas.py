#encoding: utf-8
'''
tftp_sas.py  带"魔法师的学徒"错误的 TFTP 服务器

tftp_server.py with APPRENTICE on: it answers every ACK with a
block, a duplicate ACK too. The lesson shows what that does: one
late ACK, and every block is sent twice from then on.
`tftp get --check` fails it at "a duplicated ACK is not answered
twice". Run it as tftp_server.py: [PORT] [DIR].
'''
import tftp_server

tftp_server.APPRENTICE = True
try:
    tftp_server.main()
except KeyboardInterrupt:
    print('stopped')
