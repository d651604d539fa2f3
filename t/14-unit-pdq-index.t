#!/usr/bin/perl
# The PDQ near-match index (t/unit/test_pdq_index.c): every answer checked
# against brute force, after imports, syncs and removals.
use strict;
use warnings;
my $build = $ENV{UF_BUILD} || 'build';
exec "$build/unit/test_pdq_index" or die "$build/unit/test_pdq_index: $! (run make unit)\n";
