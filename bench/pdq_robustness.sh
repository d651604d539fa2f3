#!/bin/bash
# How well PDQ as the module computes it finds altered copies, and how
# often it matches unrelated images: the table in README.
#
#   bench/pdq_robustness.sh [T]        # T: the distance, default 31
#
# Images: the distinct benign photographs among t/data/pdq-vectors (the
# bridge and the LabelMe subset), plus 12 non-overlapping tiles of the
# bridge photograph as further distinct images.  Each is "listed" with its
# reference-exact hash (hashdb hash --exact, as a publisher would compute
# it); each altered copy is hashed as the module hashes an upload (the fast
# path, all 8 rotations and mirrors) and its distance is the smallest over
# the 8.  Images of quality < 50 are left out, as the module leaves them.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
T=${1:-31}
jt="$build/unit/jpeg_transform"
img="$top/t/data/pdq-vectors/images"
work=$(mktemp -d /tmp/uf-pdq-XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/base"
for f in bridge-mods--aaa-orig labelme-subset--q0003 labelme-subset--q0004 \
         labelme-subset--q0122 labelme-subset--q0291 labelme-subset--q0746 \
         labelme-subset--q1050 labelme-subset--q2821; do
    cp "$img/$f.jpg" "$work/base/$f.jpg"
done

# tiles of the 1600 x 1004 bridge: 4 x 3 of 400 x 334
perl -e 'for my $y (0 .. 2) { for my $x (0 .. 3) { print "$x $y\n" } }' |
while read -r x y; do
    "$jt" "$img/bridge-mods--aaa-orig.jpg" "$work/base/tile-$x-$y.jpg" \
        tile "$x" "$y" 4 3
done

ops=("reencode 90" "reencode 70" "reencode 50" "resize 50" "resize 25"
     "crop 2" "crop 5" "overlay 10" "overlay 30" "rotate 90" "rotate 180"
     "rotate 270" "mirror" "gray"
     "to PNG" "to WebP q80" "to WebP lossless" "to GIF 256" "to BMP"
     "to HEIC q80" "to AVIF q80"
     "to WebP q80 and back" "to GIF 256 and back" "to AVIF q80 and back")

# the format conversions (Debian's Pillow; libheif's heif-enc and
# heif-convert for HEIC and AVIF, which Pillow 9.4 does not write); "and
# back": converted, then to JPEG quality 85, as a re-upload would be
py=/usr/bin/python3
convert() {
    local in=$1 out=$2 op=$3 fmt
    fmt=$(echo "$op" | awk '{ print $2 }')
    case "$op" in
    "to PNG") $py -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], 'PNG')" "$in" "$out" ;;
    "to WebP q80"*) $py -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], 'WEBP', quality=80)" "$in" "$out" ;;
    "to WebP lossless") $py -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], 'WEBP', lossless=True)" "$in" "$out" ;;
    "to GIF 256"*) $py -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').quantize(256).save(sys.argv[2], 'GIF')" "$in" "$out" ;;
    "to BMP") $py -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], 'BMP')" "$in" "$out" ;;
    "to HEIC q80") heif-enc -q 80 "$in" -o "$out" >/dev/null ;;
    "to AVIF q80"*) heif-enc -A -q 80 "$in" -o "$out" >/dev/null ;;
    esac
    if [[ $op == *"and back" ]]; then
        case $fmt in
        AVIF) heif-convert "$out" "$out.png" >/dev/null; mv "$out.png" "$out" ;;
        esac
        $py -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], 'JPEG', quality=85)" "$out" "$out.jpg"
        mv "$out.jpg" "$out"
    fi
}

# listed: the reference hash of each base image (quality >= 50 only)
: > "$work/listed.txt"
for f in "$work"/base/*.jpg; do
    "$build/hashdb" hash --exact "$f" | awk -v f="$(basename "$f")" \
        '/^pdq:/ { split($0, a, "quality="); if (a[2] + 0 >= 50) print f, substr($1, 5) }' \
        >> "$work/listed.txt"
done

# every base image, altered, hashed as an upload: 8 variants
: > "$work/copies.txt"
while read -r name _; do
    for op in "${ops[@]}"; do
        if [[ $op == to* ]]; then
            convert "$work/base/$name" "$work/copy.jpg" "$op"
        else
            # shellcheck disable=SC2086
            "$jt" "$work/base/$name" "$work/copy.jpg" $op
        fi
        "$build/hashdb" hash --variants "$work/copy.jpg" |
            awk -v n="$name" -v op="$op" '/^pdq/ { sub(/^pdq[^:]*:/, "", $1); print n "\t" op "\t" $1 }' \
            >> "$work/copies.txt"
    done
    "$build/hashdb" hash --variants "$work/base/$name" |
        awk -v n="$name" '/^pdq/ { sub(/^pdq[^:]*:/, "", $1); print n "\tas is\t" $1 }' \
        >> "$work/copies.txt"
done < "$work/listed.txt"

perl - "$T" "$work/listed.txt" "$work/copies.txt" <<'PERL'
use strict;
use warnings;
my ($T, $listed, $copies) = @ARGV;
sub dist { unpack('%32b*', pack('H*', $_[0]) ^ pack('H*', $_[1])) }

my (%ref, @names);
open my $l, '<', $listed or die;
while (<$l>) { my ($n, $h) = split; $ref{$n} = $h; push @names, $n }

my (%var, @ops);
open my $c, '<', $copies or die;
while (<$c>) {
    chomp;
    my ($n, $op, $h) = split /\t/;
    push @ops, $op unless grep { $_ eq $op } @ops;
    push @{ $var{$op}{$n} }, $h;
}

sub best { my ($h, $vs) = @_; my $b = 256; for (@$vs) { my $d = dist($h, $_); $b = $d if $d < $b } $b }

printf "%d images; distance T = %d; distance = smallest over the upload's 8 variants\n\n",
       scalar @names, $T;
print "| transformation | matched | distance min / median / max | missed |\n",
      "|---|---|---|---|\n";
for my $op (@ops) {
    my %d = map { $_ => best($ref{$_}, $var{$op}{$_}) } @names;
    my @d = sort { $a <=> $b } values %d;
    my @missed = map { s/\.jpg$//r } grep { $d{$_} > $T } sort @names;
    my $m = @d - @missed;
    printf "| %s | %d/%d (%.0f%%) | %d / %d / %d | %s |\n", $op, $m, scalar @d,
           100 * $m / @d, $d[0], $d[int(@d / 2)], $d[-1], join(' ', @missed);
}

# false matches: each image's upload hashes against every other listed one,
# as is and in every format it was converted to
for my $set (['as is'], [grep { /^to / } @ops]) {
    my ($pairs, $false, $closest) = (0, 0, 256);
    for my $op (@$set) {
        for my $a (@names) {
            next unless $var{$op}{$a};
            for my $b (@names) {
                next if $a eq $b;
                my $d = best($ref{$b}, $var{$op}{$a});
                $pairs++;
                $false++ if $d <= $T;
                $closest = $d if $d < $closest;
            }
        }
    }
    printf "\nunrelated pairs (%s): %d of %d within %d (%.1f%%); the closest pair at %d bits\n",
           @$set > 1 ? 'every format conversion' : 'as is',
           $false, $pairs, $T, 100 * $false / $pairs, $closest;
}
PERL
