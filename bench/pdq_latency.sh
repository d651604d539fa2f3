#!/bin/bash
# PDQ in the module: how long JPEG uploads of 0.3, 3 and 12 MP wait for
# their verdict, and what hashing them does to small requests of other
# clients, with the thread pool (the default) and with
# "upload_filter_thread_pool off" (hashing in the event loop).
#
#   bench/pdq_latency.sh            # DURATION=10 UPLOADS=30
#
# One nginx worker with the module, in front of a backend nginx that
# answers 204; 100 000 random PDQ hashes listed, none near the images.
# Loopback only; every run is bounded.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
duration=${DURATION:-10}
uploads=${UPLOADS:-30}
. "$top/bench/lib.sh"

jt="$build/unit/jpeg_transform"
src="$top/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg"

echo "# PDQ latency, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"

"$jt" "$src" "$work/0.3mp.jpg" resize 43
"$jt" "$src" "$work/3mp.jpg" resize 137
"$jt" "$src" "$work/12mp.jpg" resize 275
head -c 4096 /dev/urandom > "$work/small.bin"

perl -e 'open my $r, "<", "/dev/urandom" or die; read $r, my $b, 32 * 100000;
         print map { unpack("H64", substr $b, 32 * $_, 32) . ",100\n" } 0 .. 99999' \
    > "$work/pdq.txt"
"$build/hashdb" init "$work/hashset" >/dev/null
"$build/hashdb" import "$work/hashset" --source bench --unsigned --format pdq \
    "$work/pdq.txt" >/dev/null

conf backend "$port_back" "location / { return 204; }"
conf filter "$port_front" "upload_filter on;
        location /threads/ { proxy_pass http://backend; }
        location /inline/ { upload_filter_thread_pool off; proxy_pass http://backend; }
        location /small { proxy_pass http://backend; }"
sed -i 's/error_log \(.*\) warn;/error_log \1 info;/' "$work/filter/nginx.conf"

for n in backend filter; do
    nginx -p "$work/$n" -c "$work/$n/nginx.conf" -g 'daemon on;' \
        -e "$work/$n/error.log"
done
sleep 0.5

# --- verdict time per image size ------------------------------------------

stats() {  # times in seconds on stdin -> "p50 p99 max" in ms
    sort -n | awk '{ v[NR] = $1 * 1000 }
        END { printf "%.1f %.1f %.1f", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1 > NR ? NR : int(NR * 0.99) + 1], v[NR] }'
}

echo
echo "| upload | size | p50 | p99 | max | same size, not a JPEG: p50 |"
echo "|---|---|---|---|---|---|"
for img in 0.3mp 3mp 12mp; do
    f="$work/$img.jpg"
    head -c "$(stat -c %s "$f")" /dev/urandom > "$work/$img.bin"
    t_jpg=$(for i in $(seq "$uploads"); do
        curl -s -o /dev/null -w '%{time_total}\n' -T "$f" \
            "http://127.0.0.1:$port_front/threads/$img"; done | stats)
    t_bin=$(for i in $(seq "$uploads"); do
        curl -s -o /dev/null -w '%{time_total}\n' -T "$work/$img.bin" \
            "http://127.0.0.1:$port_front/threads/$img.bin"; done | stats)
    read -r p50 p99 max <<< "$t_jpg"
    read -r b50 _ _ <<< "$t_bin"
    echo "| $img JPEG | $(( $(stat -c %s "$f") / 1024 )) KiB | $p50 ms | $p99 ms | $max ms | $b50 ms |"
done

if grep -q "no PDQ verdict" "$work/filter/error.log"; then
    echo "# some uploads missed the budget:"
    grep "no PDQ verdict" "$work/filter/error.log" | tail -3
fi

# --- small requests while 12 MP JPEGs are hashed ------------------------------

small() {  # p99 and req/s of 4 KiB POSTs for $duration s
    BODY_FILE="$work/small.bin" wrk -t1 -c4 -d"${duration}s" --latency \
        -s "$top/bench/post.lua" "http://127.0.0.1:$port_front/small" \
        2>/dev/null | wrk_summary
}

uploader() {  # $1: location; 12 MP uploads in a loop until killed
    while :; do
        curl -s -o /dev/null -T "$work/12mp.jpg" \
            "http://127.0.0.1:$port_front/$1/x.jpg" || true
    done
}

echo
echo "| small 4 KiB POSTs (wrk -c4) | req/s | p99 |"
echo "|---|---|---|"
read -r rps p99 _ <<< "$(small)"
echo "| alone | $rps | $p99 ms |"
for where in threads inline; do
    uploader "$where" & u1=$!
    uploader "$where" & u2=$!
    sleep 0.5
    read -r rps p99 _ <<< "$(small)"
    kill "$u1" "$u2" 2>/dev/null; wait "$u1" "$u2" 2>/dev/null || true
    echo "| with 2 clients uploading 12 MP JPEGs, hashed $( [ $where = threads ] && echo 'in the thread pool' || echo 'in the event loop') | $rps | $p99 ms |"
done
