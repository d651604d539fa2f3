#!/bin/bash
# What decoding videos and 12 MP images in the thread pool does to small
# requests on the same worker, by upload_filter_thread_priority: the
# table in README, Video.
#
#   bench/decode_priority.sh          # DURATION=10
#
# One nginx worker with the module in front of a backend nginx that
# answers 204; a small request is a 4 KiB POST (wrk -t1 -c4).  Load: two
# clients uploading 12 MP JPEGs and one uploading a minute of 720p video,
# each in a loop, into a pool of 2 threads, each priority in a pool of
# its own (a thread lowers its priority for good).  PIN=1 runs the
# filter's nginx (worker and pool) on CPU 0 and the clients and the
# backend on CPU 1, so that the decoders compete with the event loop
# alone.  Loopback only; every run is bounded.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
duration=${DURATION:-10}
. "$top/bench/lib.sh"

jt="$build/unit/jpeg_transform"
"$jt" "$top/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg" "$work/12mp.jpg" resize 275
ffmpeg -v error -y -stream_loop 2 -i "$top/t/data/video/chair-orig-22-sd-bar.mp4" -t 60 \
    -vf scale=-2:720 -c:v libx264 -preset veryfast -crf 23 -an "$work/720p.mp4"
head -c 4096 /dev/urandom > "$work/small.bin"

# a listed video and images, so that the filter hashes (nothing matches)
"$build/hashdb" init "$work/hashset" >/dev/null
"$build/hashdb" import "$work/hashset" --source bench --unsigned --format vpdq \
    "$top/t/data/video/hashes-1fps/doorknob-hd-no-bar.txt" >/dev/null

conf backend "$port_back" "location / { return 204; }"
conf filter "$port_front" "upload_filter on;
        client_max_body_size 50m;
        location /small { proxy_pass http://backend; }
        location /normal/ { upload_filter_thread_pool p_normal;
                            upload_filter_thread_priority normal;
                            proxy_pass http://backend; }
        location /batch/ { upload_filter_thread_pool p_batch;
                           upload_filter_thread_priority batch;
                           proxy_pass http://backend; }
        location /idle/ { upload_filter_thread_pool p_idle;
                          upload_filter_thread_priority idle;
                          proxy_pass http://backend; }"
sed -i -e 's/^worker_processes 1;/&\nthread_pool p_normal threads=2;\nthread_pool p_batch threads=2;\nthread_pool p_idle threads=2;/' \
    "$work/filter/nginx.conf"

cpu_filter=()
cpu_clients=()
if [ -n "${PIN:-}" ]; then
    cpu_filter=(taskset -c 0)
    cpu_clients=(taskset -c 1)
fi

"${cpu_clients[@]}" nginx -p "$work/backend" -c "$work/backend/nginx.conf" \
    -g 'daemon on;' -e "$work/backend/error.log"
"${cpu_filter[@]}" nginx -p "$work/filter" -c "$work/filter/nginx.conf" \
    -g 'daemon on;' -e "$work/filter/error.log"
sleep 0.5

small() {  # req/s and p99 of 4 KiB POSTs for $duration s
    BODY_FILE="$work/small.bin" "${cpu_clients[@]}" wrk -t1 -c4 -d"${duration}s" --latency \
        -s "$top/bench/post.lua" "http://127.0.0.1:$port_front/small" \
        2>/dev/null | wrk_summary
}

uploader() {  # $1: location, $2: file; uploads in a loop until killed
    while :; do
        "${cpu_clients[@]}" curl -s -o /dev/null -T "$2" \
            "http://127.0.0.1:$port_front/$1/x" || true
    done
}

echo "# decode priority, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores${PIN:+, pinned}"
echo
echo "| small 4 KiB POSTs (wrk -c4) | req/s | p99 | p99 / alone |"
echo "|---|---|---|---|"
read -r rps0 p990 _ <<< "$(small)"
echo "| alone | $rps0 | $p990 ms | 1.0 |"
for prio in normal batch idle; do
    uploader "$prio" "$work/12mp.jpg" & u1=$!
    uploader "$prio" "$work/12mp.jpg" & u2=$!
    uploader "$prio" "$work/720p.mp4" & u3=$!
    sleep 1
    read -r rps p99 _ <<< "$(small)"
    kill "$u1" "$u2" "$u3" 2>/dev/null; wait "$u1" "$u2" "$u3" 2>/dev/null || true
    echo "| while 2 clients upload 12 MP JPEGs and 1 a 720p minute, priority $prio | $rps | $p99 ms | $(awk -v a="$p99" -v b="$p990" 'BEGIN { printf "%.2f", a / b }') |"
done
grep -c 'no PDQ verdict' "$work/filter/error.log" | sed 's/^/uploads over their budget: /'
