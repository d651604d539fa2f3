#!/usr/bin/perl
# The PDQ near-match index (t/unit/test_pdq_index.c): every answer checked
# against brute force, after imports, syncs and removals; once with the
# scan the CPU gets (AVX2 on x86-64 where it has it), once with the plain
# loop every CPU runs (HDB_PDQ_SCAN=c).
use strict;
use warnings;
use Test::More;
my $build = $ENV{UF_BUILD} || 'build';
for my $scan ('', 'c') {
    local $ENV{HDB_PDQ_SCAN} = $scan;
    my $out = `$build/unit/test_pdq_index 2>&1`;
    my $rc = $? >> 8;
    my @not_ok = $out =~ /^(not ok .*)$/mg;
    my ($n) = $out =~ /^1\.\.(\d+)$/m;
    ok($rc == 0 && !@not_ok && ($n // 0) >= 40,
       ($scan ? 'the plain scan' : 'the scan this CPU runs')
       . ": all $n checks of test_pdq_index pass")
        or diag $out;
}
done_testing;
