#!/usr/bin/perl
# Policies in the hashdb library (t/unit/test_policy.c): which source
# names a match, actions and categories, scope, shadow writes, promote.
use strict;
use warnings;
my $build = $ENV{UF_BUILD} || 'build';
exec "$build/unit/test_policy" or die "$build/unit/test_policy: $! (run make unit)\n";
