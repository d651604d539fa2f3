#!/bin/bash
# hashdb scan: a first scan and a cached rescan of a generated tree
# (FILES files of mixed sizes, 1 % of them JPEG and PNG images of the
# vectors), against sha256sum over the same tree in the same run; then
# the cached rescan of a RESCAN-file tree (default 1 000 000 one-kilobyte
# files).  Files/s, MB/s, CPU (user + sys).  The page cache is dropped
# before each first read where the machine lets us (root), so the first
# scan reads from disk.
#
#   bench/scan.sh                  # FILES=100000 RESCAN=1000000
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
files=${FILES:-100000}
rescan=${RESCAN:-1000000}
work=$(mktemp -d /tmp/uf-scan-XXXXXX)
trap 'rm -rf "$work"' EXIT

drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

run() {  # label, command...: wall s, files/s, MB/s, CPU s
    local label=$1 n=$2 mb=$3; shift 3
    local t0 t1 cpu
    t0=$(date +%s.%N)
    /usr/bin/time -o "$work/cpu" -f "%U %S" "$@" >/dev/null 2>&1 || true
    cpu=$(tail -1 "$work/cpu")
    t1=$(date +%s.%N)
    awk -v l="$label" -v n="$n" -v mb="$mb" -v a="$t0" -v b="$t1" -v c="$cpu" \
        'BEGIN { split(c, u, " "); w = b - a;
                 printf "| %s | %.1f s | %.0f | %.0f | %.1f s |\n", l, w, n / w, mb / w, u[1] + u[2] }'
}

make_tree() {  # dir, n, sizes: mixed or 1k
    /usr/bin/python3 - "$1" "$2" "$3" "$top/t/data/formats/images/bridge-mods" <<'PY'
import os, random, shutil, sys
root, n, kind, img = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
random.seed(1)
images = [os.path.join(img, f) for f in sorted(os.listdir(img))]
for i in range(n):
    d = os.path.join(root, '%03d' % (i % 997), '%02d' % (i % 89))
    os.makedirs(d, exist_ok=True)
    if kind == 'mixed' and i % 100 == 0:
        shutil.copy(images[i // 100 % len(images)], os.path.join(d, 'img%d' % i))
        continue
    size = 1024 if kind == '1k' else int(random.lognormvariate(9, 1.6)) % (8 << 20)
    with open(os.path.join(d, 'f%d' % i), 'wb') as f:
        f.write(os.urandom(size) if kind == 'mixed' else (b'%d\n' % i).ljust(size, b'.'))
PY
}

"$build/hashdb" init "$work/db" >/dev/null
perl -e 'open my $r, "<", "/dev/urandom"; for (1 .. 100000) { read $r, my $b, 20; print unpack("H40", $b), "\n" }' \
    > "$work/list.txt"
perl -e 'open my $r, "<", "/dev/urandom"; for (1 .. 10000) { read $r, my $b, 32; print unpack("H64", $b), ",100\n" }' \
    > "$work/pdq.txt"
"$build/hashdb" import "$work/db" --source bench --unsigned "$work/list.txt" >/dev/null
"$build/hashdb" import "$work/db" --source pdq --unsigned --format pdq "$work/pdq.txt" >/dev/null

echo "# hashdb scan, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
make_tree "$work/tree" "$files" mixed
mb=$(du -sm "$work/tree" | cut -f1)
echo
echo "$files files ($mb MB, 1 % images), 100 000 SHA-1 and 10 000 PDQ hashes listed:"
echo
echo "| run | wall | files/s | MB/s | CPU |"
echo "|---|---|---|---|---|"
drop; run "sha256sum (find -exec, one process per 1000 files)" "$files" "$mb" \
    bash -c "find '$work/tree' -type f -exec sha256sum {} +"
drop; run "hashdb scan, first (-j $(nproc))" "$files" "$mb" \
    "$build/hashdb" scan --no-progress "$work/db" "$work/tree"
drop; run "hashdb scan --cache, first" "$files" "$mb" \
    "$build/hashdb" scan --no-progress --cache "$work/cache" "$work/db" "$work/tree"
run "hashdb scan --cache, rescan (nothing changed)" "$files" "$mb" \
    "$build/hashdb" scan --no-progress --cache "$work/cache" "$work/db" "$work/tree"
rm -rf "$work/tree" "$work/cache"

make_tree "$work/big" "$rescan" 1k
mb=$(du -sm "$work/big" | cut -f1)
echo
echo "$rescan files of 1 KiB ($mb MB on disk):"
echo
echo "| run | wall | files/s | MB/s | CPU |"
echo "|---|---|---|---|---|"
run "hashdb scan --cache, first" "$rescan" "$mb" \
    "$build/hashdb" scan --no-progress --cache "$work/cache" "$work/db" "$work/big"
run "hashdb scan --cache, rescan (nothing changed)" "$rescan" "$mb" \
    "$build/hashdb" scan --no-progress --cache "$work/cache" "$work/db" "$work/big"
echo
echo "cache: $(du -sm "$work/cache" | cut -f1) MB for $rescan files"
