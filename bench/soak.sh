#!/bin/bash
# Soak: a bounded wrk load of mixed clean and listed uploads (small and
# large raw bodies, multipart, JPEGs matched by PDQ) while `hashdb sync`
# rewrites the hash set over and over.  Afterwards, from the logs of both
# nginx: every clean upload answered 2xx by the backend, every listed one
# 403 and none of them at the backend; worker memory and descriptors
# before and after; temporary files left; alert/crit lines.
#
#   bench/soak.sh                        # DURATION=600 ENTRIES=1000000
#   VALGRIND=1 DURATION=120 bench/soak.sh  # the filter under valgrind
#
# Two workers (one process, no master, under valgrind) with a thread pool
# of 2, in front of a backend nginx that answers 204.  Loopback only;
# bounded by DURATION.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
duration=${DURATION:-600}
entries=${ENTRIES:-1000000}
conns=${CONNECTIONS:-16}
valgrind=${VALGRIND:-}
. "$top/bench/lib.sh"

img="$top/t/data/pdq-vectors/images"
echo "# soak, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${duration}s, wrk -t2 -c$conns," \
     "$entries listed digests rewritten by hashdb sync in a loop${valgrind:+, under valgrind}"

# the uploads: clean ones and listed ones
head -c 4096 /dev/urandom > "$work/c-small.bin"
head -c 1048576 /dev/urandom > "$work/c-large.bin"
head -c 4096 /dev/urandom > "$work/m-small.bin"
head -c 1048576 /dev/urandom > "$work/m-large.bin"
head -c 32768 /dev/urandom > "$work/part1.bin"
head -c 32768 /dev/urandom > "$work/part2.bin"
head -c 32768 /dev/urandom > "$work/m-part.bin"
multipart() {  # $1: out, $2 $3: the two file parts
    { printf -- '--soakB\r\nContent-Disposition: form-data; name="title"\r\n\r\nholiday\r\n'
      printf -- '--soakB\r\nContent-Disposition: form-data; name="a"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
      cat "$2"
      printf -- '\r\n--soakB\r\nContent-Disposition: form-data; name="b"; filename="b.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
      cat "$3"
      printf -- '\r\n--soakB--\r\n'; } > "$1"
}
multipart "$work/c-multi.bin" "$work/part1.bin" "$work/part2.bin"
multipart "$work/m-multi.bin" "$work/part1.bin" "$work/m-part.bin"
cp "$img/labelme-subset--q0122.jpg" "$work/c-jpeg.jpg"
"$build/unit/jpeg_transform" "$img/bridge-mods--aaa-orig.jpg" "$work/m-jpeg.jpg" resize 50

# the hash set: the listed uploads in a source of their own, and a feed
# that the sync loop swaps between two lists sharing half their entries
sha() { sha256sum "$1" | cut -c1-64; }
{ sha "$work/m-small.bin"; sha "$work/m-large.bin"; sha "$work/m-part.bin"; } > "$work/fixed.txt"
"$build/hashdb" hash "$img/bridge-mods--aaa-orig.jpg" |
    awk '/^pdq:/ { sub(/^pdq:/, "", $1); print $1 ",100" }' > "$work/fixed-pdq.txt"
half=$((entries / 2))
random_list "$half" > "$work/common.txt"
random_list "$half" > "$work/only-a.txt"
random_list "$half" > "$work/only-b.txt"
cat "$work/common.txt" "$work/only-a.txt" > "$work/feed-a.txt"
cat "$work/common.txt" "$work/only-b.txt" > "$work/feed-b.txt"
"$build/hashdb" init "$work/hashset" >/dev/null
"$build/hashdb" import "$work/hashset" --source fixed --unsigned "$work/fixed.txt" >/dev/null
"$build/hashdb" import "$work/hashset" --source fixed-pdq --unsigned --format pdq "$work/fixed-pdq.txt" >/dev/null
"$build/hashdb" sync "$work/hashset" --source feed --unsigned "$work/feed-a.txt" >/dev/null

conf backend "$port_back" "location / { return 204; }"
sed -i 's|access_log off;|log_format soak "$uri $status $request_length"; access_log '"$work"'/backend/access.log soak;|' \
    "$work/backend/nginx.conf"
conf filter "$port_front" "upload_filter on; upload_filter_thread_pool soak;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
sed -i -e 's|access_log off;|log_format soak "$uri $status $upload_filter_result"; access_log '"$work"'/filter/access.log soak;|' \
    -e 's/^worker_processes 1;/worker_processes 2;\nthread_pool soak threads=2;/' \
    "$work/filter/nginx.conf"
mkdir -p "$work/filter/body"

nginx -p "$work/backend" -c "$work/backend/nginx.conf" -e "$work/backend/error.log"
if [ -n "$valgrind" ]; then
    sed -i 's/^worker_processes 2;/worker_processes 1;\nmaster_process off;\ndaemon off;/' "$work/filter/nginx.conf"
    valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite \
        --track-fds=no --num-callers=30 --log-file="$work/valgrind.log" \
        nginx -p "$work/filter" -c "$work/filter/nginx.conf" -e "$work/filter/error.log" &
    vg=$!
    for _ in $(seq 300); do [ -f "$work/filter.pid" ] && break; sleep 0.1; done
    sleep 2
    workers=$vg
else
    nginx -p "$work/filter" -c "$work/filter/nginx.conf" -e "$work/filter/error.log"
    sleep 0.5
    workers=$(pgrep -P "$(cat "$work/filter.pid")" | tr '\n' ' ')
fi

# per worker: pid, VmRSS and RssAnon (KiB), descriptors other than
# sockets, sockets.  RSS grows as lookups map more of the set (file pages,
# shared); a leak shows in RssAnon.  Sockets include the upstream
# keep-alive cache (up to 16).
snapshot() {
    for p in $workers; do
        awk -v p="$p" '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 }
                       END { printf "%s %s %s ", p, r, a }' "/proc/$p/status"
        find "/proc/$p/fd" -mindepth 1 -printf '%l\n' 2>/dev/null |
            awk '/^socket:/ { s++; next } { f++ } END { printf "%d %d\n", f, s }'
    done
}

spec="/clean/small|$work/c-small.bin|application/octet-stream|8"
spec+=$'\n'"/clean/large|$work/c-large.bin|application/octet-stream|2"
spec+=$'\n'"/clean/multipart|$work/c-multi.bin|multipart/form-data; boundary=soakB|3"
spec+=$'\n'"/clean/jpeg|$work/c-jpeg.jpg|image/jpeg|1"
spec+=$'\n'"/match/small|$work/m-small.bin|application/octet-stream|2"
spec+=$'\n'"/match/large|$work/m-large.bin|application/octet-stream|1"
spec+=$'\n'"/match/multipart|$work/m-multi.bin|multipart/form-data; boundary=soakB|2"
spec+=$'\n'"/match/jpeg|$work/m-jpeg.jpg|image/jpeg|1"

# a minute's warm-up at the same mix, so that "before" is a worker in use
warm=$((duration < 300 ? 10 : 60))
MIX_SPECS="$spec" wrk -t2 -c"$conns" -d"${warm}s" -s "$top/bench/mix.lua" \
    "http://127.0.0.1:$port_front/" >/dev/null
sleep 2
before=$(snapshot)
: > "$work/filter/access.log"
: > "$work/backend/access.log"

# the sync loop: each pass replaces half of the feed (ENTRIES/2 removed,
# ENTRIES/2 added)
(
    n=0
    end=$((SECONDS + duration))
    while [ $SECONDS -lt $end ]; do
        for l in b a; do
            "$build/hashdb" sync "$work/hashset" --source feed --unsigned "$work/feed-$l.txt" >/dev/null
            n=$((n + 1))
        done
        echo "$n" > "$work/syncs"
    done
) &
syncer=$!

MIX_SPECS="$spec" wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$top/bench/mix.lua" \
    "http://127.0.0.1:$port_front/" > "$work/wrk.txt"
wait "$syncer"
sleep 2
after=$(snapshot)

echo "## wrk"
grep -E 'Requests/sec|requests in|Non-2xx|Socket errors|Latency  |99%' "$work/wrk.txt" | sed 's/^/#  /'
echo "## syncs of the feed during the run: $(cat "$work/syncs" 2>/dev/null || echo 0)" \
     "(each removes $half entries and adds $half)"

echo "## answers by kind (filter's access log: uri status result)"
awk '{ k = $1 " " $2 " " $3; c[k]++ } END { for (k in c) printf "#  %8d  %s\n", c[k], k }' \
    "$work/filter/access.log" | sort -k2
# 499: the client went away (wrk stops mid-request at the deadline)
clean_bad=$(awk '$1 ~ /^\/clean\// && $2 !~ /^2/ && $2 != 499' "$work/filter/access.log" | wc -l)
gone=$(awk '$2 == 499' "$work/filter/access.log" | wc -l)
match_bad=$(awk '$1 ~ /^\/match\// && $2 != 403' "$work/filter/access.log" | wc -l)
leaked=$(awk '$1 ~ /^\/match\//' "$work/backend/access.log" | wc -l)
clean_in=$(awk '$1 ~ /^\/clean\//' "$work/filter/access.log" | wc -l)
clean_back=$(awk '$1 ~ /^\/clean\//' "$work/backend/access.log" | wc -l)
temps=$(find "$work/filter/body" -type f | wc -l)
alerts=$(grep -cE '\[(alert|crit|emerg)\]|exited on signal' "$work/filter/error.log" || true)
echo "## clean uploads not answered 2xx: $clean_bad; listed uploads not refused: $match_bad;" \
     "listed uploads at the backend: $leaked; clean uploads at the backend: $clean_back of $clean_in"
echo "## closed by the client mid-request (499, wrk's deadline): $gone"
echo "## temporary body files left: $temps; alert/crit lines: $alerts"
echo "## workers before (pid rss_kib anon_kib fds sockets):"
echo "$before" | sed 's/^/#  /'
echo "## workers after:"
echo "$after" | sed 's/^/#  /'

if [ -n "$valgrind" ]; then
    kill -QUIT "$vg"
    wait "$vg" || true
    echo "## valgrind"
    grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|Invalid|uninitialised' "$work/valgrind.log" |
        sed 's/^==[0-9]*== /#  /' | sort | uniq -c | sed 's/^ */#  /'
    cp "$work/valgrind.log" "${VALGRIND_LOG:-/tmp/upload-filter-valgrind.log}"
fi
