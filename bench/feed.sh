#!/bin/bash
# A feed for a fleet (hashdb publish, hashdb pull), on this machine:
#
#   - a list of ENTRIES (default 2 000 000) SHA-256 digests with CHURN
#     (default 1 %) of it replaced every day: per node and day, the bytes
#     downloaded and the time of a pull through the day's delta, against
#     pulling the full list;
#   - a node DAYS (default 30) behind: through the deltas, against the
#     full list;
#   - one origin nginx serving a feed of FLEET_ENTRIES (default 20 000:
#     200 copies of a 2 M-entry set would not fit this machine) to NODES
#     (default 200) nodes, one day behind, pulling at once with --jitter
#     JITTER (default 10) s: requests/s at the origin (peak second and
#     mean), bytes, and whether every node converged.
#
#   bench/feed.sh
#   ENTRIES=200000 DAYS=10 NODES=50 bench/feed.sh
#
# Loopback only.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
entries=${ENTRIES:-2000000}
churn=${CHURN:-1}
days=${DAYS:-30}
fleet_entries=${FLEET_ENTRIES:-20000}
nodes=${NODES:-200}
jitter=${JITTER:-10}
. "$top/bench/lib.sh"

hashdb=$build/hashdb
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
bytes_of() { sed -n 's/.* \([0-9]*\) bytes downloaded.*/\1/p' | tail -1; }

echo "# feed benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo "# $entries entries, ${churn} % replaced a day, $days days; fleet: $nodes nodes, $fleet_entries entries, jitter ${jitter}s"

"$hashdb" keygen --secret "$work/sec.pem" --public "$work/pub.pem" >/dev/null
"$hashdb" init "$work/hashset" >/dev/null     # the origin loads the module

conf origin "$port_back" "access_log $work/origin/access.log;
        location /feed/ { alias $work/feed/; }
        location /fleet/ { alias $work/fleet/; }"
sed -i 's/    access_log off;//' "$work/origin/nginx.conf"
mkdir -p "$work/feed" "$work/fleet"
nginx -p "$work/origin" -c "$work/origin/nginx.conf" -e "$work/origin/error.log"
sleep 0.3
url="http://127.0.0.1:$port_back/feed/"

# day's list: drop CHURN % of the lines at random, add as many new ones
next_day() {  # $1: list in, $2: list out, $3: how many
    shuf -n "$(( $(wc -l < "$1") - $3 ))" "$1" > "$2.tmp"
    random_list "$3" >> "$2.tmp"
    mv "$2.tmp" "$2"
}

node() {  # $1: name: a hash set that trusts the publisher
    "$hashdb" init "$work/$1" >/dev/null
    "$hashdb" trust "$work/$1" --source bench "$work/pub.pem" >/dev/null
}

random_list "$entries" > "$work/day1.txt"
t0=$(now)
"$hashdb" publish "$work/feed" --source bench --key "$work/sec.pem" --keep "$days" \
    "$work/day1.txt" >/dev/null
t1=$(now)
echo
echo "| step | time | bytes downloaded |"
echo "|---|---|---|"
echo "| publish day 1 (full list, $entries rows) | $(secs "$t0" "$t1") s | full list $(stat -c %s "$work/feed/full-1.csv.gz") bytes gzip |"

node a
t0=$(now)
b=$("$hashdb" pull "$work/a" --source bench "$url" | bytes_of)
t1=$(now)
echo "| a new node: pull the full list | $(secs "$t0" "$t1") s | $b |"
cp -r "$work/a" "$work/behind"

n=$(( entries * churn / 100 ))
pub_t=0; pull_t=0; pull_b=0
for d in $(seq 2 $((days + 1))); do
    next_day "$work/day$((d - 1)).txt" "$work/day$d.txt" "$n"
    rm -f "$work/day$((d - 1)).txt"
    t0=$(now)
    "$hashdb" publish "$work/feed" --source bench --key "$work/sec.pem" --keep "$days" \
        "$work/day$d.txt" >/dev/null
    t1=$(now)
    b=$("$hashdb" pull "$work/a" --source bench "$url" | bytes_of)
    t2=$(now)
    pub_t=$(echo "$pub_t + $t1 - $t0" | bc -l)
    pull_t=$(echo "$pull_t + $t2 - $t1" | bc -l)
    pull_b=$((pull_b + b))
done
echo "| publish a day (sorted diff, gzip, sign), mean of $days | $(echo "$pub_t / $days" | bc -l | xargs printf '%.2f') s | delta $(stat -c %s "$work/feed/delta-$((days + 1)).csv.gz") bytes gzip |"
echo "| a node's daily pull through the delta, mean of $days | $(echo "$pull_t / $days" | bc -l | xargs printf '%.2f') s | $((pull_b / days)) |"

cp -r "$work/behind" "$work/behind-full"
t0=$(now)
b=$("$hashdb" pull "$work/behind" --source bench "$url" | bytes_of)
t1=$(now)
echo "| a node $days days behind: through $days deltas | $(secs "$t0" "$t1") s | $b |"
t0=$(now)
b=$("$hashdb" pull "$work/behind-full" --source bench --full --allow-shrink "$url" | bytes_of)
t1=$(now)
echo "| the same node: the full list instead | $(secs "$t0" "$t1") s | $b |"
rm -rf "$work/behind" "$work/behind-full" "$work/a"

# --- the fleet ---------------------------------------------------------------

furl="http://127.0.0.1:$port_back/fleet/"
random_list "$fleet_entries" > "$work/f1.txt"
"$hashdb" publish "$work/fleet" --source bench --key "$work/sec.pem" "$work/f1.txt" >/dev/null
node n0
"$hashdb" pull "$work/n0" --source bench "$furl" >/dev/null
for i in $(seq 1 "$nodes"); do cp -r "$work/n0" "$work/n$i"; rm -f "$work/n$i/.pull-bench"; done
next_day "$work/f1.txt" "$work/f2.txt" $((fleet_entries * churn / 100))
"$hashdb" publish "$work/fleet" --source bench --key "$work/sec.pem" "$work/f2.txt" >/dev/null

: > "$work/origin/access.log"
t0=$(now)
for i in $(seq 1 "$nodes"); do
    "$hashdb" pull "$work/n$i" --source bench --jitter "$jitter" "$furl" \
        > "$work/n$i.out" 2>&1 &
done
wait
t1=$(now)
ok=0
for i in $(seq 1 "$nodes"); do
    grep -q -- '-> 2 through 1 deltas' "$work/n$i.out" && ok=$((ok + 1))
done
req=$(grep -c '/fleet/' "$work/origin/access.log")
bytes=$(awk '/\/fleet\// { s += $10 } END { print s + 0 }' "$work/origin/access.log")
peak=$(awk '/\/fleet\// { split($4, a, ":"); k = a[2] ":" a[3] ":" a[4]; n[k]++ }
            END { m = 0; for (k in n) if (n[k] > m) m = n[k]; print m }' "$work/origin/access.log")
echo
echo "| fleet of $nodes nodes, --jitter $jitter | value |"
echo "|---|---|"
echo "| nodes converged (at the new sequence, through the delta) | $ok of $nodes |"
echo "| requests at the origin | $req (index, delta, signature per node) |"
echo "| bytes served | $bytes ($((bytes / nodes)) per node) |"
echo "| requests/s: peak second, mean over the $(secs "$t0" "$t1") s | $peak, $(echo "$req / ($t1 - $t0)" | bc -l | xargs printf '%.1f') |"
