#!/bin/bash
# Serve-time inspection (upload_filter_responses) against plain nginx,
# back to back (A/B/A/B), same configuration but for the one directive:
#
#   - static files with sendfile on, 4 KiB, 100 KiB, 1 MiB of random
#     bytes (digests only: what every response costs);
#   - a 1 MiB JPEG through proxy_cache, every request a hit, and through
#     proxy without a cache (every request a fill from the origin), with
#     a hash set that holds PDQ hashes too, so that the image is decoded
#     and hashed in the thread pool on every request;
#   - the same with the verdict zone (upload_filter_response_zone): a
#     known clean object passes unread;
#   - after an update lists an object already cached: whether the next
#     request is refused, how long after the commit, and whether its
#     bytes were read again (the hashed-bytes counter);
#   - the latency a held image response adds (p50/p99, one connection),
#     JPEGs of 0.3, 3 and 12 MP, no zone: every request hashed.
#
# Prints requests/s, p99 and CPU per request of both, and their ratios.
#
#   bench/responses.sh               # 5 s per run, 1M listed digests
#   DURATION=10 bench/responses.sh
#
# Loopback only; every run is bounded by DURATION.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
duration=${DURATION:-5}
entries=${ENTRIES:-1000000}
conns=${CONNECTIONS:-8}
. "$top/bench/lib.sh"

echo "# upload-filter responses benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo "# wrk -t1 -c$conns -d${duration}s, $entries listed SHA-256 digests (+ PDQ hashes for the image runs)"

random_list "$entries" > "$work/list.txt"
"$build/hashdb" init "$work/hashset" >/dev/null
"$build/hashdb" import "$work/hashset" --source bench --unsigned "$work/list.txt" >/dev/null

mkdir -p "$work/www"
for s in 4k 100k 1m; do
    head -c "$(numfmt --from=iec "${s^^}")" /dev/urandom > "$work/www/f-$s.bin"
done
# a ~1 MiB photo: a benign vector scaled up
"$build/unit/jpeg_transform" "$top/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg" \
    "$work/www/photo.jpg" scale-up 2 >/dev/null
echo "# photo: $(stat -c %s "$work/www/photo.jpg") bytes"

conf backend "$port_back" "root $work/www; sendfile on;"
nginx -p "$work/backend" -c "$work/backend/nginx.conf" -e "$work/backend/error.log"

proxy="proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\";"
cache="proxy_cache edge; proxy_cache_valid 200 1h;"

setup() {  # $1: scenario, $2: "zone" for a verdict zone; writes the
           # plain and filter configurations
    local loc zone=
    case $1 in
        static) loc="root $work/www; sendfile on;" ;;
        hit)    loc="$proxy $cache" ;;
        fill)   loc="$proxy" ;;
    esac
    [ "${2:-}" = zone ] && zone="upload_filter_response_zone verdicts;"
    conf plain "$port_front" "location / { $loc }
        location = /status { upload_filter_metrics; }"
    conf filter "$port_front" "upload_filter_responses on; $zone
        location / { $loc }
        location = /status { upload_filter_responses off; upload_filter_metrics; }"
    for m in plain filter; do
        rm -rf "$work/$m/cache"
        sed -i "s|^http {|http {\n    proxy_cache_path $work/$m/cache keys_zone=edge:8m;\n    upload_filter_zone verdicts 16m;|" \
            "$work/$m/nginx.conf"
    done
}

run() {  # $1: plain|filter, $2: URI; prints "rps p99_ms cpu_ticks requests"
    nginx -p "$work/$1" -c "$work/$1/nginx.conf" -e "$work/$1/error.log"
    sleep 0.3
    curl -s -o /dev/null "http://127.0.0.1:$port_front$2"    # the cache filled
    local c0 c1 out
    c0=$(worker_cpu "$1")
    out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$port_front$2")
    c1=$(worker_cpu "$1")
    kill -QUIT "$(cat "$work/$1.pid")"
    while [ -f "$work/$1.pid" ]; do sleep 0.1; done
    read -r r p k _ < <(echo "$out" | wrk_summary)
    echo "$r $p $((c1 - c0)) $k"
}

hz=$(getconf CLK_TCK)
avg() { echo "$@" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s / NF }'; }

measure() {  # $1: label, $2: URI
    declare -A rps=() p99=() cpu=() n=()
    for round in 1 2; do
        for mode in plain filter; do
            read -r r p c k < <(run $mode "$2")
            rps[$mode]="${rps[$mode]:-} $r"; p99[$mode]="${p99[$mode]:-} $p"
            cpu[$mode]=$(( ${cpu[$mode]:-0} + c )); n[$mode]=$(( ${n[$mode]:-0} + k ))
        done
    done
    pr=$(avg ${rps[plain]}); fr=$(avg ${rps[filter]})
    pp=$(avg ${p99[plain]}); fp=$(avg ${p99[filter]})
    pc=$(echo "${cpu[plain]} / ${n[plain]} * 1000 / $hz" | bc -l)
    fc=$(echo "${cpu[filter]} / ${n[filter]} * 1000 / $hz" | bc -l)
    printf "%-22s %10s %10s %6.3f %8sms %8sms %7.3f %8.3fms %8.3fms\n" "$1" "$pr" "$fr" \
        "$(echo "$fr / $pr" | bc -l)" "$pp" "$fp" "$(echo "$fp / $pp" | bc -l)" "$pc" "$fc"
}

printf "\n%-22s %10s %10s %6s %10s %10s %7s %10s %10s\n" response "plain rps" "filter rps" \
    ratio "plain p99" "filter p99" ratio "plain CPU" "filter CPU"
setup static
for s in 4k 100k 1m; do
    measure "static $s sendfile" "/f-$s.bin"
done

# from here the set holds PDQ hashes: images are decoded and hashed
"$build/hashdb" import "$work/hashset" --source bench-pdq --unsigned --format pdq - \
    <<< "$(printf '%064x,100,random\n' 12345)" >/dev/null
setup hit
measure "photo proxy_cache hit" /photo.jpg
setup fill
measure "photo proxy, fill" /photo.jpg
setup static
measure "static 1m (PDQ in set)" /f-1m.bin

# the verdict zone: a known clean object passes unread
setup hit zone
measure "photo cache hit, zone" /photo.jpg
setup static zone
measure "static 100k, zone" /f-100k.bin
measure "static 1m, zone" /f-1m.bin

# --- after an update lists an object already cached ------------------------

metric() {  # $1: metric name; its value at the filter's /status
    curl -s "http://127.0.0.1:$port_front/status" | awk -v m="$1" '$1 == m { print $2 }'
}

echo
echo "# an update lists a cached object (proxy_cache hit, verdict zone)"
setup hit zone
nginx -p "$work/filter" -c "$work/filter/nginx.conf" -e "$work/filter/error.log"
sleep 0.3
"$build/unit/jpeg_transform" "$top/t/data/pdq-vectors/images/labelme-subset--q2821.jpg" \
    "$work/www/later.jpg" reencode 80 >/dev/null
for i in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$port_front/later.jpg"; done
bytes0=$(metric upload_filter_hashed_bytes_total)
sha=$(sha256sum "$work/www/later.jpg" | cut -d' ' -f1)
t0=$(date +%s.%N)
"$build/hashdb" import "$work/hashset" --source today --unsigned - <<< "$sha" >/dev/null
t1=$(date +%s.%N)
read -r code ttot < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
                      "http://127.0.0.1:$port_front/later.jpg")
t2=$(date +%s.%N)
bytes1=$(metric upload_filter_hashed_bytes_total)
kill -QUIT "$(cat "$work/filter.pid")"
while [ -f "$work/filter.pid" ]; do sleep 0.1; done
echo "| the first request after hashdb import committed | status $code |"
echo "| its time | $(echo "$ttot * 1000" | bc -l | xargs printf '%.2f') ms |"
echo "| commit to refusal (import's own exit, then curl) | $(echo "($t2 - $t1) * 1000" | bc -l | xargs printf '%.1f') ms (import itself: $(echo "($t1 - $t0) * 1000" | bc -l | xargs printf '%.0f') ms) |"
echo "| bytes hashed for it | $((bytes1 - bytes0)) (its size: $(stat -c %s "$work/www/later.jpg")) |"

# --- the latency a held image response adds ---------------------------------

jt="$build/unit/jpeg_transform"
src="$top/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg"
"$jt" "$src" "$work/www/0.3mp.jpg" resize 43 >/dev/null
"$jt" "$src" "$work/www/3mp.jpg" resize 137 >/dev/null
"$jt" "$src" "$work/www/12mp.jpg" resize 275 >/dev/null

latency() {  # $1: plain|filter, $2: URI; prints "p50_ms p99_ms" (wrk, 1 connection)
    nginx -p "$work/$1" -c "$work/$1/nginx.conf" -e "$work/$1/error.log"
    sleep 0.3
    wrk -t1 -c1 -d"${duration}s" --latency "http://127.0.0.1:$port_front$2" |
        awk 'function ms(v) { if (v ~ /us$/) { sub(/us/, "", v); return v / 1000 }
                              if (v ~ /ms$/) { sub(/ms/, "", v); return v }
                              sub(/s/, "", v); return v * 1000 }
             / 50% / { p50 = ms($2) } / 99% / { p99 = ms($2) }
             END { printf "%.2f %.2f\n", p50, p99 }'
    kill -QUIT "$(cat "$work/$1.pid")"
    while [ -f "$work/$1.pid" ]; do sleep 0.1; done
}

echo
echo "# latency a held image response adds (static JPEG, PDQ in the set, no zone, wrk -c1)"
echo "| image | size | plain p50 | plain p99 | held p50 | held p99 | added p50 |"
echo "|---|---|---|---|---|---|---|"
setup static
for mp in 0.3mp 3mp 12mp; do
    read -r pp50 pp99 < <(latency plain "/$mp.jpg")
    read -r fp50 fp99 < <(latency filter "/$mp.jpg")
    echo "| ${mp%mp} MP | $(stat -c %s "$work/www/$mp.jpg") | $pp50 ms | $pp99 ms | $fp50 ms | $fp99 ms | $(echo "$fp50 - $pp50" | bc -l | xargs printf '%.2f') ms |"
done
