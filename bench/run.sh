#!/bin/bash
# Benchmark: plain nginx against nginx with the upload filter, back to back
# (A/B/A/B), same configuration but for "upload_filter on", each proxying
# to the same backend nginx.  wrk POSTs 4 KiB, 100 KiB, 1 MiB and 10 MiB
# bodies, raw and as a multipart/form-data file part.  Prints requests/s
# and p99 latency for both and their ratio, and the CPU the filter adds
# per MiB next to what `openssl speed` says the digest alone costs.
#
#   bench/run.sh                  # defaults: 5 s per run, 1M listed digests
#   DURATION=10 ENTRIES=100000 KINDS=multipart bench/run.sh
#
# Loopback only; every run is bounded by DURATION.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
duration=${DURATION:-5}
entries=${ENTRIES:-1000000}
conns=${CONNECTIONS:-8}
sizes=${SIZES:-"4k 100k 1m 10m"}
kinds=${KINDS:-"raw multipart"}
. "$top/bench/lib.sh"

port_front=18080
port_back=18081

echo "# upload-filter benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo "# nginx $(nginx -v 2>&1 | sed 's/.*\///'), wrk -t1 -c$conns -d${duration}s, $entries listed SHA-256 digests"

# a hash set of random SHA-256 digests: none matches the bodies
random_list "$entries" > "$work/list.txt"
"$build/hashdb" init "$work/hashset" >/dev/null
start=$(date +%s.%N)
"$build/hashdb" import "$work/hashset" --source bench --unsigned "$work/list.txt" >/dev/null
end=$(date +%s.%N)
echo "# import: $entries lines in $(echo "$end - $start" | bc) s"

conf backend $port_back "location / { return 204; }"
conf plain $port_front "location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
conf filter $port_front "upload_filter on; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"

nginx -p "$work/backend" -c "$work/backend/nginx.conf" -e "$work/backend/error.log"

run() {  # $1: plain|filter, $2: body file, $3: type; prints "rps p99_ms cpu_ticks requests"
    nginx -p "$work/$1" -c "$work/$1/nginx.conf" -e "$work/$1/error.log"
    sleep 0.3
    local c0 c1 out
    c0=$(worker_cpu "$1")
    out=$(BODY_FILE="$2" CONTENT_TYPE="$3" wrk -t1 -c"$conns" -d"${duration}s" --latency \
          -s "$top/bench/post.lua" "http://127.0.0.1:$port_front/upload")
    c1=$(worker_cpu "$1")
    kill -QUIT "$(cat "$work/$1.pid")"
    while [ -f "$work/$1.pid" ]; do sleep 0.1; done
    read -r r p k _ < <(echo "$out" | wrk_summary)
    echo "$r $p $((c1 - c0)) $k"
}

hz=$(getconf CLK_TCK)
digest=$("$build/hashdb" stats "$work/hashset" | awk '/^computes:/ { print $2 }')
speed=$(openssl speed -evp "$digest" -bytes 16384 -seconds 2 2>/dev/null | awk '/^'"$digest"' / { print $2 }' | tr -d k)

printf "\n%-12s %12s %12s %7s %11s %11s %7s %14s\n" body "plain rps" "filter rps" ratio \
    "plain p99" "filter p99" ratio "added CPU/MiB"
for kind in $kinds; do
for size in $sizes; do
    body="$work/body-$kind-$size"
    type=application/octet-stream
    if [ "$kind" = multipart ]; then
        # one file part, as a browser frames it
        b=----WebKitFormBoundary7MA4YWxkTrZu0gW
        type="multipart/form-data; boundary=$b"
        { printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n' "$b"
          head -c "$(numfmt --from=iec "${size^^}")" /dev/urandom
          printf -- '\r\n--%s--\r\n' "$b"; } > "$body"
    else
        head -c "$(numfmt --from=iec "${size^^}")" /dev/urandom > "$body"
    fi
    mib=$(echo "$(stat -c %s "$body") / 1048576" | bc -l)
    declare -A rps=() p99=() cpu=() n=()
    for round in 1 2; do
        for mode in plain filter; do
            read -r r p c k < <(run $mode "$body" "$type")
            rps[$mode]="${rps[$mode]:-} $r"; p99[$mode]="${p99[$mode]:-} $p"
            cpu[$mode]=$(( ${cpu[$mode]:-0} + c )); n[$mode]=$(( ${n[$mode]:-0} + k ))
        done
    done
    avg() { echo "$@" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s / NF }'; }
    pr=$(avg ${rps[plain]}); fr=$(avg ${rps[filter]})
    pp=$(avg ${p99[plain]}); fp=$(avg ${p99[filter]})
    # CPU per request of each, difference scaled to one MiB of body
    added=$(echo "(${cpu[filter]} / ${n[filter]} - ${cpu[plain]} / ${n[plain]}) * 1000 / $hz / $mib" | bc -l)
    printf "%-12s %12s %12s %7.3f %9sms %9sms %7.3f %11.3f ms\n" "$size $kind" "$pr" "$fr" \
        "$(echo "$fr / $pr" | bc -l)" "$pp" "$fp" "$(echo "$fp / $pp" | bc -l)" "$added"
done
done

echo
printf "digest computed: %s; openssl speed -evp %s: %.0f MB/s = %.3f ms/MiB on one core\n" \
    "$digest" "$digest" "$(echo "$speed / 1000" | bc -l)" "$(echo "1048576 / ($speed * 1000) * 1000" | bc -l)"
