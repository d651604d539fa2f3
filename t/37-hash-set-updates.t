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
$t->start_nginx(UFTest::proxy_server());

is(UFTest::status($t->request('PUT', '/a', $first)), 403, 'listed at start: 403');
is(UFTest::status($t->request('PUT', '/b', $later)), 200, 'not yet listed: 200');

$t->listed(source => 'list-b', category => 'new', lines => [md5_hex($later)]);
is(UFTest::status($t->request('PUT', '/c', $later)), 403,
   'listed by an import while nginx runs: 403 on the next request, no reload');
$t->like_access(qr{^PUT /c 403 result=match match=md5:\Q${\ md5_hex($later)}\E source=list-b category=new}m,
     'the new source and its digest type are used');
is(UFTest::status($t->request('PUT', '/d', $first)), 403, 'the first list still blocks');

# a full sync that drops the first file and lists another
my $synced = "listed by a sync\n" x 10;
my ($rc, $out, $err) = $t->hashdb('sync', $t->db, '--source', 'list-a', '--unsigned', '-', \(sha256_hex($synced) . "\n"));
is($rc, 0, 'sync while nginx runs');
is(UFTest::status($t->request('PUT', '/e', $synced)), 403, 'a file listed by the sync is blocked at once');
is(UFTest::status($t->request('PUT', '/f', $first)), 200, 'a file the sync dropped passes at once');

# the allow list: passes, and the log says so
$t->hashdb('allow', $t->db, sha256_hex($synced), '--reason', 'false "positive"');
is(UFTest::status($t->request('PUT', '/g', $synced)), 200, 'an allowed digest passes');
like($t->error_log, qr/\[warn\].*upload_filter: match action=allow digest=sha256:\Q${\ sha256_hex($synced)}\E source="list-a" category="" allowed="false \\x22positive\\x22" part=body/,
     'and is logged as allowed, with the reason');
$t->like_access(qr{^PUT /g 200 result=allowed match=sha256:}m, '$upload_filter_result is allowed');
$t->hashdb('unallow', $t->db, sha256_hex($synced));
is(UFTest::status($t->request('PUT', '/h', $synced)), 403, 'blocked again once taken off the allow list');

# a disabled source
$t->hashdb('disable', $t->db, '--source', 'list-b');
is(UFTest::status($t->request('PUT', '/i', $later)), 200, 'a disabled source blocks nothing');
$t->hashdb('enable', $t->db, '--source', 'list-b');
is(UFTest::status($t->request('PUT', '/j', $later)), 403, 'enabled again, it blocks');

# A list whose every row carries MD5, SHA-1 and SHA-256: only SHA-1 need
# be computed.  The row below pairs the MD5 and SHA-256 of $decoy with the
# SHA-1 of $triple, so which of the two is blocked shows what is computed.
my $t2 = UFTest->new;
$t2->listed(source => 'full', lines => [join ' ', md5_hex($decoy), sha1_hex($triple), sha256_hex($decoy)]);
($rc, $out) = $t2->hashdb("stats", $t2->db);
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
$t2->like_access(qr{^PUT /t 403 result=match match=sha1:}m, 'the match is a SHA-1 match');
is(UFTest::status($t2->request('PUT', '/d', $decoy)), 200,
   'MD5 and SHA-256 are not computed when SHA-1 covers the list');

# a one-digest-per-line list of SHA-256 added: now SHA-256 is computed too
$t2->listed(source => 'partial', lines => [sha256_hex($decoy)]);
is(UFTest::status($t2->request('PUT', '/d2', $decoy)), 403,
   'after adding a SHA-256-only list, SHA-256 is computed as well');

$t->finish;
$t2->finish;
done_testing;
