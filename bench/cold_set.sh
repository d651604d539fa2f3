#!/bin/bash
# A cold hash set: upload latency once the host has paged the set out,
# with upload_filter_resident off, warm and lock, against the same
# uploads with the set in memory, measured in the same run.
#
#   bench/cold_set.sh                      # ENTRIES=1000000 COUNT=400 IDLE=90
#   IDLE=0 bench/cold_set.sh               # only the forced page-out
#
# For each mode: nginx (one worker, the filter) in front of a backend that
# answers 204; COUNT sequential uploads of fresh random 256-byte bodies
# (each a lookup of a new digest) while the set is in memory; then
#   - "paged out": t/page_out.pl pages the set out of nginx's workers and
#     the page cache (as a host reclaiming idle memory does), 3 s pass,
#     COUNT uploads;
#   - "idle": IDLE seconds without a request (the VMs here page out what
#     is untouched for 60 s: DAMON), COUNT uploads.
# Prints p50/p99/max in ms, how much of the set was in memory when the
# uploads began, and the CPU the first worker used while idle.
# Loopback only; every step is bounded.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
entries=${ENTRIES:-1000000}
count=${COUNT:-400}
idle=${IDLE:-90}
modes=${MODES:-"off warm lock"}
. "$top/bench/lib.sh"

echo "# cold hash set, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $entries SHA-256 listed, $count uploads per row"
dev=$(df --output=source "$work" | tail -1)
disk=$(lsblk -no pkname "$dev" 2>/dev/null | head -1)
disk=${disk:-$(basename "$dev")}
echo "# $dev: read_ahead_kb $(cat "/sys/block/$disk/queue/read_ahead_kb" 2>/dev/null || echo '?') (a fault in the map reads that much around it)"

random_list "$entries" > "$work/list.txt"
"$build/hashdb" init "$work/hashset" >/dev/null
"$build/hashdb" import "$work/hashset" --source bench --unsigned "$work/list.txt" >/dev/null
rm "$work/list.txt"

conf backend "$port_back" "location / { return 204; }"
nginx -p "$work/backend" -c "$work/backend/nginx.conf" -e "$work/backend/error.log"

in_memory() {
    "$build/hashdb" stats --json "$work/hashset" |
        awk -F'[:,]' '/"in_use"/ { u = $2 } /"in_memory"/ { m = $2 }
                      END { printf "%.0f%%", 100 * m / u }'
}

hz=$(getconf CLK_TCK)
printf "%-5s %-10s %9s %8s %8s %8s %6s %s\n" mode when in-memory p50 p99 max failed "worker CPU while idle"

for mode in $modes; do
    conf "$mode" "$port_front" "upload_filter on; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
    sed -i -e "s|^\(\s*upload_filter_db .*\)$|\1\n    upload_filter_resident $mode;|" \
        -e 's/error_log \(.*\) warn;/error_log \1 info;/' "$work/$mode/nginx.conf"
    nginx -p "$work/$mode" -c "$work/$mode/nginx.conf" -e "$work/$mode/error.log"
    sleep 1
    for _ in $(seq 100); do
        [ "$mode" = off ] && break
        grep -q 'in memory' "$work/$mode/error.log" && break
        sleep 0.1
    done
    workers=$(pgrep -P "$(cat "$work/$mode.pid")" | tr '\n' ' ')

    perl "$top/bench/latency.pl" "$port_front" 200 >/dev/null    # connections, code
    m=$(in_memory)
    read -r p50 p99 max failed < <(perl "$top/bench/latency.pl" "$port_front" "$count")
    printf "%-5s %-10s %9s %8s %8s %8s %6s\n" "$mode" "in memory" "$m" "$p50" "$p99" "$max" "$failed"

    if [ "$idle" -gt 0 ]; then
        c0=$(worker_cpu "$mode")
        sleep "$idle"
        c1=$(worker_cpu "$mode")
        m=$(in_memory)
        read -r p50 p99 max failed < <(perl "$top/bench/latency.pl" "$port_front" "$count")
        printf "%-5s %-10s %9s %8s %8s %8s %6s %.1f%% of a core\n" "$mode" "idle ${idle}s" "$m" "$p50" "$p99" "$max" "$failed" \
            "$(echo "100 * ($c1 - $c0) / $hz / $idle" | bc -l)"
    fi

    perl "$top/t/page_out.pl" "$work/hashset/data.mdb" $workers >/dev/null || true
    sleep 3
    m=$(in_memory)
    read -r p50 p99 max failed < <(perl "$top/bench/latency.pl" "$port_front" "$count")
    printf "%-5s %-10s %9s %8s %8s %8s %6s\n" "$mode" "paged out" "$m" "$p50" "$p99" "$max" "$failed"

    { grep -h 'upload_filter_resident' "$work/$mode/error.log" || true; } |
        sed 's/^[^]]*\] [0-9#]*: /#   /' | head -3
    kill -QUIT "$(cat "$work/$mode.pid")"
    while [ -f "$work/$mode.pid" ]; do sleep 0.1; done
done
