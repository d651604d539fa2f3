#!/usr/bin/perl
# The body inspection's unit tests (t/unit/test_inspect.c): decoders,
# nesting, forms, JSON, Content-Encoding, and what is refused.
use strict;
use warnings;
my $build = $ENV{UF_BUILD} || 'build';
exec "$build/unit/test_inspect" or die "$build/unit/test_inspect: $! (run make unit)\n";
