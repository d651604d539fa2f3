#!/bin/bash
# What decoding videos and 12 MP images in the thread pool does to small
# requests on the same worker, by upload_filter_thread_priority: the
# table in README, Video.
#
#   bench/decode_priority.sh          # DURATION=10 ROUNDS=3 LISTED=1000000
#
# One nginx worker with the module in front of a backend nginx that
# answers 204; a small request is a 4 KiB POST (wrk -t1 -c4).  Load: two
# clients uploading 12 MP JPEGs (one every 2 s each) and one uploading a
# minute of 720p video (one every 4 s), paced so that every row carries
# the same uploads, into a pool of 2 threads, each priority in a pool of
# its own (a thread lowers its priority for good); the row "off" sends
# them to a location without the filter (what nginx itself spends taking
# them in and passing them on).  The hash set lists the video and
# LISTED random PDQ hashes, so that looking an upload's frames up costs
# what it costs against a real list.  Each row is run ROUNDS times, the
# rows interleaved; the medians are printed.  PIN=1 runs the filter's
# nginx (worker and pool) on CPU 0 and the clients and the backend on
# CPU 1, so that the decoders compete with the event loop alone.
# KEEP_LOG=F keeps the filter's error log.  Loopback only; every run is
# bounded.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
listed=${LISTED:-1000000}
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
if [ "$listed" -gt 0 ]; then
    random_list "$listed" | "$build/hashdb" import "$work/hashset" --source images \
        --unsigned --format pdq - >/dev/null
fi

conf backend "$port_back" "location / { return 204; }"
conf filter "$port_front" "upload_filter on;
        client_max_body_size 50m;
        location /small { proxy_pass http://backend; }
        location /off/ { upload_filter off; proxy_pass http://backend; }
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

uploader() {  # $1: location, $2: file, $3: period (s); until killed
    local start
    while :; do
        start=$(date +%s.%N)
        "${cpu_clients[@]}" curl -s -o /dev/null -T "$2" \
            "http://127.0.0.1:$port_front/$1/x" && echo >> "$work/uploads" || true
        sleep "$(awk -v s="$start" -v p="$3" -v n="$(date +%s.%N)" \
                 'BEGIN { d = s + p - n; print (d > 0 ? d : 0) }')"
    done
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

row() {  # $1: location or "alone": "rps p99 uploads/s" of one run
    local u1 u2 u3 rps p99 n
    : > "$work/uploads"
    if [ "$1" != alone ]; then
        uploader "$1" "$work/12mp.jpg" 2 & u1=$!
        uploader "$1" "$work/12mp.jpg" 2 & u2=$!
        uploader "$1" "$work/720p.mp4" 4 & u3=$!
        sleep 1
    fi
    : > "$work/uploads"
    read -r rps p99 _ max <<< "$(small)"
    n=$(wc -l < "$work/uploads")
    if [ "$1" != alone ]; then
        kill "$u1" "$u2" "$u3" 2>/dev/null; wait "$u1" "$u2" "$u3" 2>/dev/null || true
    fi
    echo "$rps $p99 $(awk -v n="$n" -v d="$duration" 'BEGIN { printf "%.1f", n / d }') $max"
}

rows="alone off normal batch idle"
for r in $(seq "$rounds"); do
    for w in $rows; do
        row "$w" >> "$work/row.$w"
    done
done

echo "# decode priority, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores${PIN:+, pinned}, $listed PDQ hashes listed, medians of $rounds"
echo
echo "| small 4 KiB POSTs (wrk -c4) | req/s | p99 | p99 / alone | max | uploads/s |"
echo "|---|---|---|---|---|---|"
p990=$(awk '{ print $2 }' "$work/row.alone" | median)
for w in $rows; do
    rps=$(awk '{ print $1 }' "$work/row.$w" | median)
    p99=$(awk '{ print $2 }' "$work/row.$w" | median)
    ups=$(awk '{ print $3 }' "$work/row.$w" | median)
    max=$(awk '{ print $4 }' "$work/row.$w" | median)
    case $w in
        alone) what="alone" ;;
        off) what="uploads, module off for them" ;;
        *) what="uploads hashed, priority $w" ;;
    esac
    echo "| $what | $rps | $p99 ms | $(awk -v a="$p99" -v b="$p990" 'BEGIN { printf "%.2f", a / b }') | $max ms | $ups |"
done
grep -c 'no PDQ verdict' "$work/filter/error.log" | sed 's/^/uploads over their budget: /' || true
[ -n "${KEEP_LOG:-}" ] && cp "$work/filter/error.log" "$KEEP_LOG"
exit 0
