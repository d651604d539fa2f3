#!/usr/bin/perl
# The media layer's decoders against the reference (t/unit/test_media.c):
# the vectors copied into t/data/formats (and, where ../shared is beside
# the project, every vector of ../shared/pdq-vectors-formats), bit for
# bit; the fuzz targets' seeds (fuzz/make-image-seeds.py) against
# Pillow's pixels; HEIC and AVIF against libheif's own heif-convert.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use UFTest;

my $bin = "$UFTest::BUILD/unit/test_media";
-x $bin or BAIL_OUT("$bin: run make unit");

sub vectors {
    my ($dir) = @_;
    my $out = `$bin $dir 2>&1`;
    my $rc = $? >> 8;
    my ($n) = $out =~ /^1\.\.(\d+)$/m;
    my @failed = $out =~ /^(not ok .*)$/mg;
    my @skipped = $out =~ /# skip (.*)$/mg;
    ok($rc == 0 && $n && !@failed, "$dir: $n checks, none failed")
        or diag(join "\n", @failed[0 .. ($#failed < 20 ? $#failed : 19)], $out =~ /^#.*$/mg);
    note("skipped: $_") for @skipped;
    return $n;
}

my $n = vectors('t/data/formats/expected.csv');
cmp_ok($n, '>', 150, 'every copied vector checked (frames, pixels, hashes)');
$n = vectors('fuzz/seed-pixels.csv');
cmp_ok($n, '>', 60, 'the fuzz seeds: Pillow\'s pixels (every colour type, depth, disposal)');

my $shared = "$UFTest::ROOT/../shared/pdq-vectors-formats";
SKIP: {
    skip 'no ../shared/pdq-vectors-formats beside the project', 1
        unless -f "$shared/expected.csv";
    vectors("$shared/expected.csv");
}

# lossy HEIF and AVIF: our pixels must be libheif's own (heif-convert)
my $tmp = tempdir(CLEANUP => 1);
for my $f (qw(square.heic square.avif)) {
    my $src = "t/data/formats/uploads/$f";
    system("heif-convert -q 100 $src $tmp/$f.png >/dev/null 2>&1") == 0
        or BAIL_OUT("heif-convert $src failed (apt-get install libheif-examples)");
    my ($ours) = `$UFTest::BUILD/hashdb hash $src` =~ /^pdq:(\w+)/m;
    my ($theirs) = `$UFTest::BUILD/hashdb hash $tmp/$f.png` =~ /^pdq:(\w+)/m;
    ok($ours && $theirs && $ours eq $theirs, "$f: the PDQ hash of heif-convert's pixels")
        or diag("ours $ours, heif-convert's $theirs");
}

done_testing;
