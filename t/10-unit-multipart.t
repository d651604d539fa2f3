#!/usr/bin/perl
# The multipart and Content-Type parsers' unit tests (t/unit/test_multipart.c).
use strict;
use warnings;
my $build = $ENV{UF_BUILD} || 'build';
exec "$build/unit/test_multipart" or die "$build/unit/test_multipart: $! (run make unit)\n";
