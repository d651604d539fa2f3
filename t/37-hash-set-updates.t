#!/usr/bin/perl
# A running nginx sees a hash-set update on the next request, without a
# reload; the digest types computed follow the set.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex sha1_hex md5_hex);

my $t = UFTest->new;
my $first = "first listed file\n" x 10;
my $later = "listed later\n" x 10;
my $triple = "a file listed with all three digests\n" x 10;
my $decoy = "a different file\n" x 10;
$t->listed(source => 'list-a', lines => [sha256_hex($first)]);
$t->start_upstream;
$t->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        upload_filter on;
        location / {
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }
    }
EOF2

is(UFTest::status($t->request('PUT', '/a', $first)), 403, 'listed at start: 403');
is(UFTest::status($t->request('PUT', '/b', $later)), 200, 'not yet listed: 200');

$t->listed(source => 'list-b', category => 'new', lines => [md5_hex($later)]);
is(UFTest::status($t->request('PUT', '/c', $later)), 403,
   'listed by an import while nginx runs: 403 on the next request, no reload');
like($t->access_log, qr{^PUT /c 403 result=match match=md5:\Q${\ md5_hex($later)}\E source=list-b category=new}m,
     'the new source and its digest type are used');
is(UFTest::status($t->request('PUT', '/d', $first)), 403, 'the first list still blocks');

# A list whose every row carries MD5, SHA-1 and SHA-256: only SHA-1 need
# be computed.  The row below pairs the MD5 and SHA-256 of $decoy with the
# SHA-1 of $triple, so which of the two is blocked shows what is computed.
my $t2 = UFTest->new;
$t2->listed(source => 'full', lines => [join ' ', md5_hex($decoy), sha1_hex($triple), sha256_hex($decoy)]);
my ($rc, $out) = $t2->hashdb('stats', $t2->db);
like($out, qr/^computes:\s+sha1$/m, 'stats: a complete list needs only SHA-1');
$t2->start_upstream;
$t2->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        upload_filter on;
        location / {
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }
    }
EOF2
is(UFTest::status($t2->request('PUT', '/t', $triple)), 403, 'matched by its SHA-1');
like($t2->access_log, qr{^PUT /t 403 result=match match=sha1:}m, 'the match is a SHA-1 match');
is(UFTest::status($t2->request('PUT', '/d', $decoy)), 200,
   'MD5 and SHA-256 are not computed when SHA-1 covers the list');

# a one-digest-per-line list of SHA-256 added: now SHA-256 is computed too
$t2->listed(source => 'partial', lines => [sha256_hex($decoy)]);
is(UFTest::status($t2->request('PUT', '/d2', $decoy)), 403,
   'after adding a SHA-256-only list, SHA-256 is computed as well');

$t->finish;
$t2->finish;
done_testing;
