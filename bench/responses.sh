#!/bin/bash
# Serve-time inspection (upload_filter_responses) against plain nginx,
# back to back (A/B/A/B), same configuration but for the one directive:
#
#   - static files with sendfile on, 4 KiB, 100 KiB, 1 MiB of random
#     bytes (digests only: what every response costs);
#   - a 1 MiB JPEG through proxy_cache, every request a hit, and through
#     proxy without a cache (every request a fill from the origin), with
#     a hash set that holds PDQ hashes too, so that the image is decoded
#     and hashed in the thread pool on every request.
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

setup() {  # $1: scenario; writes the plain and filter configurations
    local loc
    case $1 in
        static) loc="root $work/www; sendfile on;" ;;
        hit)    loc="$proxy $cache" ;;
        fill)   loc="$proxy" ;;
    esac
    conf plain "$port_front" "location / { $loc }"
    conf filter "$port_front" "upload_filter_responses on; location / { $loc }"
    for m in plain filter; do
        sed -i "s|^http {|http {\n    proxy_cache_path $work/$m/cache keys_zone=edge:8m;|" \
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
    read -r r p k < <(echo "$out" | wrk_summary)
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
