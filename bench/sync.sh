#!/bin/bash
# Benchmark of the updater: import speed for ENTRIES (default 10 M)
# SHA-256 lines, and nginx's p99 latency for small uploads while a sync
# changes CHANGES (default 1 M) entries, against the p99 of the same load
# without a sync, measured in the same run.
#
#   bench/sync.sh;  ENTRIES=1000000 CHANGES=200000 bench/sync.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
entries=${ENTRIES:-10000000}
changes=${CHANGES:-1000000}

. "$top/bench/lib.sh"

echo "# upload-filter updater benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"

random_list "$entries" > "$work/big.txt"
"$build/hashdb" init "$work/import" >/dev/null
start=$(date +%s.%N)
"$build/hashdb" import "$work/import" --source big --unsigned "$work/big.txt" >/dev/null
end=$(date +%s.%N)
secs=$(echo "$end - $start" | bc -l)
printf "import of %d SHA-256 lines into an empty set: %.1f s, %.0f lines/s, data.mdb %d MB\n" \
    "$entries" "$secs" "$(echo "$entries / $secs" | bc -l)" \
    "$(( $(stat -c %s "$work/import/data.mdb") / 1048576 ))"
start=$(date +%s.%N)
"$build/hashdb" sync "$work/import" --source big --unsigned "$work/big.txt" >/dev/null
end=$(date +%s.%N)
secs=$(echo "$end - $start" | bc -l)
printf "sync of the same %d lines (nothing changes): %.1f s, %.0f lines/s\n" \
    "$entries" "$secs" "$(echo "$entries / $secs" | bc -l)"
rm -rf "$work/import" "$work/big.txt"

# nginx on a set of 2 * CHANGES entries; the sync replaces half of them
half=$changes
random_list "$half" > "$work/keep.txt"
random_list "$half" > "$work/old.txt"
random_list "$half" > "$work/new.txt"
cat "$work/keep.txt" "$work/old.txt" > "$work/list1.txt"
cat "$work/keep.txt" "$work/new.txt" > "$work/list2.txt"
"$build/hashdb" init "$work/hashset" >/dev/null
"$build/hashdb" sync "$work/hashset" --source s --unsigned "$work/list1.txt" >/dev/null

conf backend $port_back "location / { return 204; }"
conf filter $port_front "upload_filter on; location / { proxy_pass http://127.0.0.1:$port_back; }"
nginx -p "$work/backend" -c "$work/backend/nginx.conf" -e "$work/backend/error.log"
nginx -p "$work/filter" -c "$work/filter/nginx.conf" -e "$work/filter/error.log"
sleep 0.3
head -c 4096 /dev/urandom > "$work/body"

load() {  # $1: seconds
    BODY_FILE="$work/body" wrk -t1 -c8 -d"$1"s --latency -s "$top/bench/post.lua" \
        "http://127.0.0.1:$port_front/upload" | wrk_summary
}

# the sync's duration sets the length of both load runs
start=$(date +%s.%N)
cp -r "$work/hashset" "$work/probe"
"$build/hashdb" sync "$work/probe" --source s --unsigned "$work/list2.txt" >/dev/null
dur=$(echo "$(date +%s.%N) - $start" | bc -l | awk '{ printf "%d", $1 + 1 }')
rm -rf "$work/probe"

# the sync runs at nice 10, as deploy/upload-filter-sync.service runs it
read -r r0 p0 n0 _ < <(load "$dur")
nice -n 10 "$build/hashdb" sync "$work/hashset" --source s --unsigned \
    "$work/list2.txt" > "$work/sync.out" &
read -r r1 p1 n1 _ < <(load "$dur")
wait
echo "sync replacing $changes of $((2 * changes)) entries, at nice 10 ($(sed 's/^s: //' "$work/sync.out"))"
printf "4 KiB uploads, wrk -c8 %d s:  without sync %s req/s p99 %s ms;  during sync %s req/s p99 %s ms;  p99 ratio %.2f\n" \
    "$dur" "$r0" "$p0" "$r1" "$p1" "$(echo "$p1 / $p0" | bc -l)"
