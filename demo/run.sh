#!/bin/bash
# The demo behind "make run": a hash set made from demo/demo-list.txt,
# a recording upstream on 127.0.0.1:8081 and nginx with the upload filter
# on 127.0.0.1:8080 (HTTP/2 without TLS on 8082).  "make stop"
# (demo/run.sh stop) stops both.  PORT, H2_PORT and UPSTREAM_PORT choose
# other ports; RUN another directory for its files (default: run/).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
run=${RUN:-$top/run}
port=${PORT:-8080}
h2_port=${H2_PORT:-8082}
upstream_port=${UPSTREAM_PORT:-8081}

stop() {
    if [ -f "$run/nginx.pid" ]; then
        kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null || true
        rm -f "$run/nginx.pid"
    fi
    if [ -f "$run/upstream.pid" ]; then
        kill "$(cat "$run/upstream.pid")" 2>/dev/null || true
        rm -f "$run/upstream.pid"
    fi
}

if [ "${1:-}" = stop ]; then
    stop
    echo "demo stopped"
    exit 0
fi

# the demo's own processes: a port they hold is freed by the restart
ours() {
    local pids=""
    if [ -f "$run/nginx.pid" ]; then
        pids="$(cat "$run/nginx.pid") $( (pgrep -P "$(cat "$run/nginx.pid")" 2>/dev/null || true) | tr '\n' ' ')"
    fi
    if [ -f "$run/upstream.pid" ]; then
        pids="$pids $(cat "$run/upstream.pid")"
    fi
    echo " $pids "
}

# a port held by anything else: refused before the running demo is touched
mine=$(ours)
for p in "$port" "$h2_port" "$upstream_port"; do
    holder=$(ss -Hltnp "sport = :$p" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
    if [ -n "$holder" ] && [[ $mine != *" $holder "* ]]; then
        echo "demo: port $p on 127.0.0.1 is in use (pid $holder); set PORT=..., H2_PORT=... or UPSTREAM_PORT=..." >&2
        exit 1
    fi
    if [ -z "$holder" ] && [ "$mine" = "  " ] && (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "demo: port $p on 127.0.0.1 is in use; set PORT=..., H2_PORT=... or UPSTREAM_PORT=..." >&2
        exit 1
    fi
done

stop
sleep 0.5

mkdir -p "$run/tmp" "$run/records" "$run/html"

# the pages (demo/html: the form, the block page) and the stand-in, where
# the workers can read them whoever owns the checkout
cp "$top"/demo/html/*.html "$top/demo/stand-in.txt" "$run/html/"

# the hash set: readable by the nginx workers' group only; workers need
# write access to lock.mdb alone
# the demo list is published signed, as a hotline would: a key pair, the
# key trusted for the source, the list signed with a sequence number
rm -rf "$run/hashset" "$run/keys"
mkdir -p "$run/keys"
"$build/hashdb" init "$run/hashset"
"$build/hashdb" keygen --secret "$run/keys/demo.pem" --public "$run/keys/demo.pub.pem"
"$build/hashdb" trust "$run/hashset" --source demo "$run/keys/demo.pub.pem"
cp "$top/demo/demo-list.txt" "$run/demo-list.txt"
"$build/hashdb" sign --key "$run/keys/demo.pem" --source demo --seq 1 "$run/demo-list.txt"
"$build/hashdb" sync "$run/hashset" --source demo --category demo "$run/demo-list.txt"

# a PDQ list: the perceptual hash of a benign test photograph, and a
# resized, re-encoded copy of it to upload
"$build/hashdb" trust "$run/hashset" --source demo-pdq "$run/keys/demo.pub.pem"
cp "$top/demo/demo-pdq.txt" "$run/demo-pdq.txt"
"$build/hashdb" sign --key "$run/keys/demo.pem" --source demo-pdq --seq 1 "$run/demo-pdq.txt"
"$build/hashdb" sync "$run/hashset" --source demo-pdq --category demo --format pdq "$run/demo-pdq.txt"
"$build/unit/jpeg_transform" "$top/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg" \
    "$run/bridge-copy.jpg" resize 50 70

user_line=
if [ "$(id -u)" = 0 ]; then
    group=www-data
    getent group "$group" >/dev/null || group=nogroup
    user_line="user www-data $group;"
    getent passwd www-data >/dev/null || user_line="user nobody $group;"
    chgrp -R "$group" "$run/hashset"
    chmod 0750 "$run/hashset"
    chmod 0640 "$run/hashset/data.mdb"
    chmod 0660 "$run/hashset/lock.mdb"
fi

sed -e "s|@BUILD@|$build|g" -e "s|@RUN@|$run|g" -e "s|@PORT@|$port|g" \
    -e "s|@H2_PORT@|$h2_port|g" \
    -e "s|@UPSTREAM_PORT@|$upstream_port|g" -e "s|@USER@|$user_line|g" \
    "$top/demo/nginx.conf.in" > "$run/nginx.conf"

nohup perl "$top/t/upstream.pl" http "$upstream_port" "$run/records" \
    > "$run/upstream.log" 2>&1 &
echo $! > "$run/upstream.pid"

nginx -p "$run" -c "$run/nginx.conf" -e "$run/error.log" -t -q
nginx -p "$run" -c "$run/nginx.conf" -e "$run/error.log"

for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

cat <<MSG

upload-filter demo running: nginx on http://127.0.0.1:$port (HTTP/2 on
$h2_port), in front of a recording upstream on 127.0.0.1:$upstream_port
(what it receives lands in $run/records).

In a browser: http://127.0.0.1:$port/ (a form; a listed file gets the block
page, demo/html/blocked.html, with a reference id: the request's id,
which the access log's line for it carries as id=).

A blocked upload (the stand-in file whose digests the demo list holds):
    curl -i -T demo/stand-in.txt http://127.0.0.1:$port/upload
    curl -i -F file=@demo/stand-in.txt http://127.0.0.1:$port/form

A resized, re-encoded copy of the listed photograph (PDQ, distance 2):
    curl -i -F photo=@$run/bridge-copy.jpg http://127.0.0.1:$port/form

Over HTTP/2:
    curl -i --http2-prior-knowledge -T demo/stand-in.txt http://127.0.0.1:$h2_port/upload

A clean upload, passed through unchanged:
    curl -i -F file=@README.md http://127.0.0.1:$port/form
    curl -i -T t/data/pdq-vectors/images/labelme-subset--q2821.jpg http://127.0.0.1:$port/upload

Logs: $run/error.log (one warn line per match), $run/access.log.
Look up a digest: $build/hashdb lookup $run/hashset HEX
Stop: make stop
MSG
