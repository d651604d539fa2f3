#!/bin/bash
# PDQ in the module: how long JPEG uploads of 0.3, 3 and 12 MP (and 12 MP
# PNG, WebP, GIF, HEIC, AVIF) wait for their verdict, and what hashing
# them does to small requests of other
# clients, with the thread pool (the default) and with
# "upload_filter_thread_pool off" (hashing in the event loop).
#
#   bench/pdq_latency.sh            # DURATION=10 UPLOADS=30
#   HOLD=600 bench/pdq_latency.sh   # only start both nginx, for 600 s
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
        location /small { proxy_pass http://backend; }
        location /off/ { upload_filter off; proxy_pass http://backend; }
        location /one/ { upload_filter_thread_pool one; proxy_pass http://backend; }"
sed -i -e 's/error_log \(.*\) warn;/error_log \1 info;/' \
    -e 's/^worker_processes 1;/&\nthread_pool one threads=1;/' \
    "$work/filter/nginx.conf"

for n in backend filter; do
    nginx -p "$work/$n" -c "$work/$n/nginx.conf" -g 'daemon on;' \
        -e "$work/$n/error.log"
done
sleep 0.5
if [ -n "${HOLD:-}" ]; then echo "$work"; sleep "$HOLD"; exit; fi

# --- verdict time per image size ------------------------------------------

stats() {  # times in seconds on stdin -> "p50 p99 max" in ms
    sort -n | awk '{ v[NR] = $1 * 1000 }
        END { i = int(NR * 0.99) + 1; if (i > NR) i = NR
              printf "%.1f %.1f %.1f", v[int(NR * 0.5) + 1], v[i], v[NR] }'
}

times() {  # $1: file, $2: location -> "p50 p99 max" of $uploads PUTs
    for i in $(seq "$uploads"); do
        curl -s -o /dev/null -w '%{time_total}\n' -T "$1" \
            "http://127.0.0.1:$port_front/$2/x"
    done | stats
}

# a worker's first JPEG pays for loading the decoder and the hash set's
# pages, and each pool thread's first one for its memory: not measured
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -T "$work/0.3mp.jpg" "http://127.0.0.1:$port_front/threads/w"
    curl -s -o /dev/null -T "$work/0.3mp.jpg" "http://127.0.0.1:$port_front/inline/w"
done

echo
echo "Time to answer a PUT, p50 / p99 / max in ms, $uploads uploads each:"
echo
echo "| upload | size | module off | hashed in the thread pool | in the event loop | same size, not a JPEG |"
echo "|---|---|---|---|---|---|"
for img in 0.3mp 3mp 12mp; do
    f="$work/$img.jpg"
    head -c "$(stat -c %s "$f")" /dev/urandom > "$work/$img.bin"
    read -r o50 _ _ <<< "$(times "$f" off)"
    read -r p50 p99 max <<< "$(times "$f" threads)"
    read -r i50 i99 imax <<< "$(times "$f" inline)"
    read -r b50 b99 _ <<< "$(times "$work/$img.bin" threads)"
    echo "| $img JPEG | $(( $(stat -c %s "$f") / 1024 )) KiB | $o50 | $p50 / $p99 / $max | $i50 / $i99 / $imax | $b50 / $b99 |"
done

# the other formats at 12 MP: in the thread pool within the budget (1 s)?
/usr/bin/python3 - "$work/12mp.jpg" "$work" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert('RGB')
im.save(sys.argv[2] + '/12mp.png')
im.save(sys.argv[2] + '/12mp.webp', quality=80)
im.quantize(256).save(sys.argv[2] + '/12mp.gif')
PY
heif-enc -q 80 "$work/12mp.png" -o "$work/12mp.heic" >/dev/null
heif-enc -A -q 80 "$work/12mp.png" -o "$work/12mp.avif" >/dev/null
echo
echo "| 12 MP upload | size | module off | hashed in the thread pool |"
echo "|---|---|---|---|"
for ext in png webp gif heic avif; do
    f="$work/12mp.$ext"
    read -r o50 _ _ <<< "$(times "$f" off)"
    read -r p50 p99 max <<< "$(times "$f" threads)"
    echo "| $ext | $(( $(stat -c %s "$f") / 1024 )) KiB | $o50 | $p50 / $p99 / $max |"
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
for where in threads one inline; do
    uploader "$where" & u1=$!
    uploader "$where" & u2=$!
    sleep 0.5
    read -r rps p99 _ <<< "$(small)"
    kill "$u1" "$u2" 2>/dev/null; wait "$u1" "$u2" 2>/dev/null || true
    case $where in
    threads) how="in nginx's default pool (32 threads)" ;;
    one)     how="in a pool of 1 thread" ;;
    inline)  how="in the event loop" ;;
    esac
    echo "| with 2 clients uploading 12 MP JPEGs, hashed $how | $rps | $p99 ms |"
done
