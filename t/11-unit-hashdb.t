#!/usr/bin/perl
# The hashdb library's unit tests (t/unit/test_hashdb.c).
use strict;
use warnings;
my $build = $ENV{UF_BUILD} || 'build';
exec "$build/unit/test_hashdb" or die "$build/unit/test_hashdb: $! (run make unit)\n";
