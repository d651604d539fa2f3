#!/usr/bin/perl
# The fuzz targets replayed, without libFuzzer, on the seed corpus and on
# every crasher "make fuzz" ever found (fuzz/crashers/).

use strict;
use warnings;
use Test::More;

my $build = $ENV{UF_BUILD} || 'build';
for my $t (qw(multipart inspect decoders list jpeg ledger feed pdq_index png gif webp heif bmp tiff video)) {
    my @inputs = (glob("fuzz/corpus/$t/*"), glob("fuzz/crashers/$t-*"));
    ok(@inputs, "$t: inputs to replay");
    my $out = `$build/unit/replay_$t @inputs 2>&1`;
    is($? >> 8, 0, "$t: every input replays without a crash") or diag $out;
    like($out, qr/${\ scalar @inputs} inputs replayed/, "$t: all of them ran");
}
done_testing;
