# Lesson: File upload: progress, checksums, safe writes, hostile names, the tutorial's protocol
client "seq 1 300000 > photo.jpg; wc -c photo.jpg"
server "upload serve $ADDR --dir uploads"
client "upload send photo.jpg --to $ADDR"
client "sha256sum photo.jpg uploads/photo.jpg"
client "upload send photo.jpg --to $ADDR"
client "printf 'PUT 5 ../evil\nBYE\n' | nc -N 127.0.0.1 $PORT"
stop
server "upload serve $ADDR --dir uploads --protocol tutorial"
client "python3 upload_user.py $PORT photo.jpg"
client "ls uploads"
stop
