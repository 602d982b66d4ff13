# Lesson: Reliable delivery over UDP: TFTP
client "mkdir -p shared; seq 1 30000 > shared/notes.txt; wc -c shared/notes.txt"
server "tftp serve $ADDR --dir shared"
client "tftp get $ADDR notes.txt -o got.txt"
client "sha256sum shared/notes.txt got.txt"
# A name that leaves the folder, a file that is not there, and a write to a server that reads only.
client "tftp get $ADDR ../secret.txt"
client "tftp get $ADDR missing.txt"
client "tftp put $ADDR got.txt --as copy.txt"
stop
# Writes on, and the options: 1428-byte blocks, 16 per acknowledgement.
server "tftp serve $ADDR --dir shared --allow-write"
client "tftp put $ADDR got.txt --as copy.txt --blksize 1428 --windowsize 16"
client "tftp put $ADDR got.txt --as copy.txt"
# The grader, against our server, then against the Python port with the Sorcerer's Apprentice bug.
client "tftp grader-files shared"
client "tftp get --check $ADDR"
stop
server "python3 -u tftp_sas.py $PORT shared"
client "tftp get --check $ADDR"
stop
