#!/bin/bash
# hashdb scan: a first scan and a cached rescan of a generated tree
# (FILES files of mixed sizes, 1 % of them JPEG and PNG images of the
# vectors), against sha256sum (and clamscan with the same list as a .hsb
# database, where clamav is installed) over the same tree in the same
# run; then the cached rescan of a RESCAN-file tree (default 1 000 000
# one-kilobyte files); then hashdb rescan of a LINES-line upload log
# (default 10 000 000).  Files/s, MB/s, CPU (user + sys).  The page cache
# is dropped before each first read where the machine lets us (root), so
# the first scan reads from disk.  A count of 0 skips its part.
#
#   bench/scan.sh                  # FILES=100000 RESCAN=1000000 LINES=10000000
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
. "$top/bench/lib.sh"
# how much of each part: a count of 0 skips it
files=${FILES:-100000} rescan=${RESCAN:-1000000} lines=${LINES:-10000000}

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
if [ "$files" -gt 0 ]; then
make_tree "$work/tree" "$files" mixed
mb=$(du -sm "$work/tree" | cut -f1)
echo
echo "$files files ($mb MB, 1 % images), 100 000 SHA-1 and 10 000 PDQ hashes listed:"
echo
echo "| run | wall | files/s | MB/s | CPU |"
echo "|---|---|---|---|---|"
drop; run "sha256sum (find -exec, one process per 1000 files)" "$files" "$mb" \
    bash -c "find '$work/tree' -type f -exec sha256sum {} +"
if command -v clamscan >/dev/null; then
    awk '{ print $1 ":*:bench" NR ":73" }' "$work/list.txt" > "$work/list.hsb"
    drop; run "clamscan -d list.hsb (the same 100 000 SHA-1)" "$files" "$mb" \
        clamscan --no-summary -i -r -d "$work/list.hsb" "$work/tree"
fi
drop; run "hashdb scan, first (-j $(nproc))" "$files" "$mb" \
    "$build/hashdb" scan --no-progress "$work/db" "$work/tree"
drop; run "hashdb scan --cache, first" "$files" "$mb" \
    "$build/hashdb" scan --no-progress --cache "$work/cache" "$work/db" "$work/tree"
run "hashdb scan --cache, rescan (nothing changed)" "$files" "$mb" \
    "$build/hashdb" scan --no-progress --cache "$work/cache" "$work/db" "$work/tree"
rm -rf "$work/tree" "$work/cache"
fi

if [ "$rescan" -gt 0 ]; then
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
rm -rf "$work/big" "$work/cache"
fi

if [ "$lines" -gt 0 ]; then
# an upload ledger as nginx writes it (escape=json), one upload a line,
# two objects each; 1 in 10 000 of them listed
perl -e 'my ($n, $list) = @ARGV; open my $l, "<", $list; chomp(my @h = <$l>);
         srand(1);
         for my $i (1 .. $n) {
             my $a = $i % 10000 ? sprintf("%040x", $i) : $h[$i % @h];
             my $b = sprintf("%040x", $i * 7);
             printf "{\"time\":\"2026-12-01T00:%02d:%02d+00:00\",\"client\":\"192.0.2.%d\",\"host\":\"up.example\",\"uri\":\"/u/%d\",\"id\":\"%032x\",\"hashes\":\"ufh1:part=1,size=%d,name=file,filename=a%d.jpg,sha1=%s;part=2,size=%d,name=note,sha1=%s\"}\n",
                 $i / 60 % 60, $i % 60, $i % 250, $i, $i, 1000 + $i % 5000, $i, $a, 80, $b;
         }' "$lines" "$work/list.txt" > "$work/uploads.log"
mb=$(du -sm "$work/uploads.log" | cut -f1)
echo
echo "hashdb rescan of a $lines-line upload log ($mb MB, 2 objects a line):"
echo
echo "| run | wall | lines/s | MB/s | CPU |"
echo "|---|---|---|---|---|"
run "hashdb rescan" "$lines" "$mb" "$build/hashdb" rescan "$work/db" "$work/uploads.log"
gzip -1 -k "$work/uploads.log"
run "hashdb rescan, gzipped" "$lines" "$mb" "$build/hashdb" rescan "$work/db" "$work/uploads.log.gz"
fi
