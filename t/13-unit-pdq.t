#!/usr/bin/perl
# PDQ against the reference implementation's hashes (t/unit/test_pdq.c).
use strict;
use warnings;
my $build = $ENV{UF_BUILD} || 'build';
exec "$build/unit/test_pdq" or die "$build/unit/test_pdq: $! (run make unit)\n";
