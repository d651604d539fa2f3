#!/bin/bash
# Video: what vPDQ costs per video-minute, each sampling against the
# reference, and how well each finds edited copies of a listed video: the
# tables of README, Video.
#
#   bench/vpdq.sh                    # VPDQ_REF=/path/to/vpdq-hash-video
#
# The reference (facebook/ThreatExchange vpdq/cpp, vpdq-hash-video -r 1)
# is not packaged: build it against Debian's FFmpeg (cmake; it wants
# libavdevice-dev, libavfilter-dev, libswresample-dev besides ours) and
# point VPDQ_REF at it; without it, "ffmpeg -threads 1" decoding every
# frame to nothing stands in as the reference's floor (decoding is most
# of what it does).
#
# Content: the chair sample video (natural footage, 22 s) looped to a
# minute and scaled to 360p, 720p and 1080p, re-encoded by x264 (medium,
# crf 23; key frames every 250 frames as x264 makes them, every 30 frames
# and at scene cuts (x264's default placement), and every 30 frames and
# nowhere else, as phones and streaming encoders place them).  Costs are
# CPU seconds (user + sys) of one process on one thread, the best of
# three.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
src="$top/t/data/video/chair-orig-22-sd-bar.mp4"
work=$(mktemp -d /tmp/uf-vpdq-XXXXXX)
trap 'rm -rf "$work"' EXIT
# a copy: a rebuild while the bench runs must not change what it measures
cp "$build/hashdb" "$work/hashdb"
hashdb="$work/hashdb"

ref=${VPDQ_REF:-$(command -v vpdq-hash-video || true)}

ff() { ffmpeg -v error -y "$@"; }

# CPU seconds of a command, the best of 3
cpu() {
    local best= t
    for _ in 1 2 3; do
        /usr/bin/time -f '%U %S' -o "$work/time" "$@" >/dev/null 2>&1
        t=$(tail -1 "$work/time" | awk '{ printf "%.3f", $1 + $2 }')
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$t
        fi
    done
    echo "$best"
}

if [ -z "${SKIP_COST:-}" ]; then
echo "== cost per video-minute (CPU seconds, one thread)"
printf '%-14s %10s %10s %10s %10s   %s\n' video reference exact fast keyframes "ratios to the reference"
for h in 360 720 1080; do
    for g in 250 30 30f; do
        # 30f: key frames every 30 frames and nowhere else (no scene cuts),
        # as phones and streaming encoders place them
        v="$work/${h}p-g$g.mp4"
        gop=(-g "${g%f}")
        [ "$g" = 30f ] && gop+=(-sc_threshold 0)
        ff -stream_loop 2 -i "$src" -t 60 -vf "scale=-2:$h" -c:v libx264 -preset medium \
           -crf 23 "${gop[@]}" -an "$v"
        if [ -n "$ref" ]; then
            r=$(cpu "$ref" -i "$v" -o "$work/ref.txt" -r 1)
            what=reference
        else
            r=$(cpu ffmpeg -v error -threads 1 -i "$v" -f null -)
            what="ffmpeg decode"
        fi
        e=$(cpu "$hashdb" hash --format vpdq --sampling exact "$v")
        f=$(cpu "$hashdb" hash --format vpdq --sampling fast "$v")
        k=$(cpu "$hashdb" hash --format vpdq --sampling keyframes "$v")
        printf '%-14s %10s %10s %10s %10s   exact %.2fx, fast %.2fx, keyframes %.1fx cheaper\n' \
               "${h}p gop $g" "$r" "$e" "$f" "$k" \
               "$(awk -v a="$r" -v b="$e" 'BEGIN { print a / b }')" \
               "$(awk -v a="$r" -v b="$f" 'BEGIN { print a / b }')" \
               "$(awk -v a="$r" -v b="$k" 'BEGIN { print a / b }')"
    done
done
echo "(reference column: $what)"
if [ -n "$ref" ]; then
    "$ref" -i "$work/720p-g250.mp4" -o "$work/ref720.txt" -r 1
    "$hashdb" hash --format vpdq --sampling exact "$work/720p-g250.mp4" > "$work/ours720.txt"
    if cmp -s "$work/ref720.txt" "$work/ours720.txt"; then
        echo "exact sampling: the reference's hashes of the 720p minute, bit for bit"
    else
        echo "exact sampling: NOT the reference's hashes of the 720p minute"
    fi
fi
fi
[ -f "$work/720p-g30.mp4" ] ||
    ff -stream_loop 2 -i "$src" -t 60 -vf scale=-2:720 -c:v libx264 -preset medium \
       -crf 23 -g 30 -an "$work/720p-g30.mp4"

# --- robustness ---------------------------------------------------------------

echo
echo "== edited copies of a listed video (720p minute, listed by its exact hashes)"
orig="$work/720p-g30.mp4"
db="$work/db"
"$hashdb" init "$db" >/dev/null
"$hashdb" hash --format vpdq --sampling exact "$orig" > "$work/listed.txt"
"$hashdb" import "$db" --source bench --unsigned --format vpdq --video-id listed \
    "$work/listed.txt" >/dev/null
# other sample videos, listed too (not the chair's: the minute is made of
# it): a copy must match its own listing, never another
for v in "$top"/t/data/video/doorknob-hd-no-bar.mp4 \
         "$top"/t/data/video/test-padded-dimensions.mp4; do
    n=$(basename "$v" .mp4)
    "$hashdb" import "$db" --source bench --unsigned --format vpdq --video-id "$n" \
        "$top/t/data/video/hashes-1fps/$n.txt" >/dev/null
done

x264="-c:v libx264 -preset veryfast -an"
declare -A edit=(
    ["re-encode crf 31"]="-i $orig -crf 31 $x264"
    ["scaled to 50 %"]="-i $orig -vf scale=-2:360 $x264"
    ["middle 60 % (cut on the second)"]="-ss 12 -t 36 -i $orig $x264"
    ["middle 60 % (cut at 12.5 s)"]="-ss 12.5 -t 36 -i $orig $x264"
    ["a 3 s clip"]="-ss 20 -t 3 -i $orig $x264"
    ["logo overlay (a box on 1/9)"]="-i $orig -vf drawbox=x=20:y=20:w=iw/3:h=ih/3:color=white@0.8:t=fill $x264"
    ["MP4 to WebM (VP9)"]="-i $orig -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 1M -an"
    ["30 to 24 fps"]="-i $orig -r 24 $x264"
    ["mirrored"]="-i $orig -vf hflip $x264"
)
printf '%-34s %-30s %-30s %-30s\n' edit exact fast keyframes
for e in "re-encode crf 31" "scaled to 50 %" "middle 60 % (cut on the second)" \
         "middle 60 % (cut at 12.5 s)" "a 3 s clip" "logo overlay (a box on 1/9)" \
         "MP4 to WebM (VP9)" "30 to 24 fps" "mirrored"; do
    ext=mp4
    case "$e" in *WebM*) ext=webm ;; esac
    out="$work/edit.$ext"
    # shellcheck disable=SC2086
    ff ${edit[$e]} "$out"
    row=""
    for s in exact fast keyframes; do
        m=$("$hashdb" hash --db "$db" --sampling "$s" "$out" | grep '^vpdq:' || true)
        if [[ $m == *'listed video "listed"'* ]]; then
            r="match $(echo "$m" | sed -E 's/.*listed_frames=[0-9]+\/[0-9]+ \(([0-9]+)%\) frames=[0-9]+\/[0-9]+ \(([0-9]+)%\).*/c=\1% q=\2%/')"
        elif [[ $m == *'listed video "'* ]]; then
            r="WRONG VIDEO"
        else
            r="no match"
        fi
        row+=$(printf '%-30s ' "$r")
    done
    printf '%-34s %s\n' "$e" "$row"
done

# --- false matches ------------------------------------------------------------

echo
echo "== distinct videos: false matches at the default rule"
n=0
fm=0
# uploads: synthetic and sample videos that are not the listed minute
i=0
for f in "testsrc2=size=640x360:rate=30" "mandelbrot=size=640x360:rate=30" \
         "life=size=640x360:rate=30:mold=10" "cellauto=size=640x360:rate=30" \
         "smptebars=size=640x360:rate=30" "rgbtestsrc=size=640x360:rate=30"; do
    ff -f lavfi -i "$f" -t 20 -pix_fmt yuv420p $x264 "$work/other-$i.mp4"
    i=$((i + 1))
done
for s in exact fast keyframes; do
    for v in "$work"/other-*.mp4 "$top"/t/data/video/doorknob-hd-no-bar.mp4 \
             "$top"/t/data/video/test-padded-dimensions.mp4; do
        n=$((n + 1))
        m=$("$hashdb" hash --db "$db" --sampling "$s" "$v" | grep '^vpdq:' || true)
        own=$(basename "$v" .mp4)
        if [[ $m == *'listed video "'* && $m != *"listed video \"$own\""* ]]; then
            fm=$((fm + 1))
            echo "false match ($s): $(basename "$v") -> $m"
        fi
    done
done
echo "$fm false matches in $n comparisons of a distinct video against the 3 listed videos"
