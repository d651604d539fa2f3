#!/bin/bash
# The cost table per image format in README: a benign photograph (the
# bridge of the vectors) at 0.3, 3 and 12 MP in each format, decoded by
# its library alone and hashed by the media layer (bench/media_cost.c),
# in the same run; plus the command-line decoders' own time for the
# 12 MP files (dwebp, heif-convert), wall clock, as a second floor.
#
#   bench/media_cost.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
make -s -C "$top" "$build/bench/media_cost" >/dev/null
work=$(mktemp -d /tmp/uf-media-XXXXXX)
trap 'rm -rf "$work"' EXIT
src="$top/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg"

for mp in 0.3 3 12; do
    /usr/bin/python3 - "$src" "$work" "$mp" <<'PY'
import sys
from PIL import Image
src, work, mp = sys.argv[1], sys.argv[2], float(sys.argv[3])
im = Image.open(src).convert('RGB')
w = int((mp * 1e6 * im.width / im.height) ** 0.5)
h = int(mp * 1e6 / w)
im = im.resize((w, h), Image.LANCZOS)
tag = '%gmp' % mp
im.save('%s/%s.jpg' % (work, tag), quality=90)
im.save('%s/%s.png' % (work, tag))
im.save('%s/%s.webp' % (work, tag), quality=80)
im.save('%s/%s.lossless.webp' % (work, tag), lossless=True)
im.quantize(256).save('%s/%s.gif' % (work, tag))
im.save('%s/%s.bmp' % (work, tag))
PY
    heif-enc -q 80 "$work/${mp}mp.png" -o "$work/${mp}mp.heic" >/dev/null
    heif-enc -A -q 80 "$work/${mp}mp.png" -o "$work/${mp}mp.avif" >/dev/null
done

files=()
for ext in jpg png webp lossless.webp gif bmp heic avif; do
    for mp in 0.3 3 12; do files+=("$work/${mp}mp.$ext"); done
done
"$build/bench/media_cost" "${files[@]}"

echo
echo "command-line decoders, 12 MP, wall clock (best of 3):"
best() {
    local b=999999 s e
    for _ in 1 2 3; do
        s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
        (( (e - s) / 1000000 < b )) && b=$(( (e - s) / 1000000 ))
    done
    echo "$b ms"
}
echo "  dwebp -ppm 12mp.webp:          $(best dwebp -ppm "$work/12mp.webp" -o /dev/null)"
echo "  heif-convert 12mp.heic (PNG):  $(best heif-convert "$work/12mp.heic" "$work/out.png")"
echo "  heif-convert 12mp.avif (PNG):  $(best heif-convert "$work/12mp.avif" "$work/out.png")"
