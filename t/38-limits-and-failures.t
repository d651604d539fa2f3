#!/usr/bin/perl
# upload_filter_max_body_size, and what happens when the hash set cannot
# be read: upload_filter_on_error reject (default) or pass.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $listed = "listed\n" x 10;
$t->listed(lines => [sha256_hex($listed)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    server => 'client_max_body_size 10m;',
    location => 'upload_filter_max_body_size 1k;',
    proxied => ['/lenient/' => "upload_filter_max_body_size 1k;\n"
                             . 'upload_filter_on_error pass;',
                '/large-ok/' => "upload_filter_max_body_size 1k;\n"
                              . 'upload_filter_on_error pass too_large;']));

my $big = 'x' x 2000;

# rejected on its headers: no "100 Continue", no body read
my $resp = $t->raw("PUT /big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                   . "Content-Length: 2000\r\n\r\n", timeout => 2);
is(UFTest::status($resp), 413, 'Content-Length over upload_filter_max_body_size: 413');
unlike($resp, qr/100 Continue/, 'rejected before "100 Continue"');

my $chunked = "PUT /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            . "Transfer-Encoding: chunked\r\n\r\n"
            . join('', map { "100\r\n" . ('y' x 256) . "\r\n" } 1 .. 8) . "0\r\n\r\n";
is(UFTest::status($t->raw($chunked)), 413, 'chunked body growing over the limit: 413');
is($t->connections, 0, 'nothing upstream');
like($t->error_log, qr/\[warn\].*cannot inspect upload: body larger than upload_filter_max_body_size \(too_large\), rejected/,
     'logged with its reason');

$resp = $t->request('PUT', '/lenient/big', $big);
is(UFTest::status($resp), 200, 'on_error pass: an oversized body passes uninspected');
my @r = $t->records;
ok(@r == 1 && $r[0]{body} eq $big, 'and is forwarded whole');
$t->clear_records;
(my $c2 = $chunked) =~ s{PUT /big}{PUT /lenient/big2};
is(UFTest::status($t->raw($c2)), 200, 'on_error pass: a chunked oversized body passes');
$t->like_access(qr{^PUT /lenient/big 200 result=error .*reason="body larger than upload_filter_max_body_size"}m,
     '$upload_filter_result is error');

is(UFTest::status($t->request('PUT', '/small', $listed)), 403, 'small listed body still blocked');

# the policy per case: pass oversized bodies, still reject malformed ones
is(UFTest::status($t->request('PUT', '/large-ok/x', $big)), 200,
   'upload_filter_on_error pass too_large: an oversized body passes');
$t->clear_records;
is(UFTest::status($t->request('POST', '/large-ok/y', "--b\r\n\r\nunterminated",
                              'Content-Type' => 'multipart/form-data; boundary=b')), 400,
   'while a malformed body is still rejected');
is($t->connections, 0, 'and not forwarded');
$t->finish;

# workers that cannot open the hash set (here: workers run as nobody and
# the set is readable by root only)
SKIP: {
    skip 'needs root', 8 unless $> == 0;
    my $u = UFTest->new;
    $u->listed(lines => [sha256_hex($listed)]);
    chmod 0700, $u->db;
    $u->start_upstream;
    $u->start_nginx(UFTest::proxy_server(
                        proxied => ['/lenient/' => 'upload_filter_on_error pass;']),
                    user => 'user nobody nogroup;');
    ok($u->wait_log(qr/\[error\].*upload_filter: cannot open hash set ".*hashset": Permission denied/),
       'a worker that cannot open the set says so at start');
    is(UFTest::status($u->request('PUT', '/x', 'clean')), 503,
       'hash set unavailable: 503 by default');
    is($u->connections, 0, 'and nothing upstream');
    like($u->error_log, qr/\[error\].*cannot inspect upload: hash set unavailable \(unavailable\), rejected/,
         'logged with its reason');
    my $resp = $u->request('PUT', '/lenient/x', 'clean');
    is(UFTest::status($resp), 200, 'on_error pass: passes uninspected');
    like($u->error_log, qr/hash set unavailable \(unavailable\), passed uninspected/, 'logged as passed');
    $u->finish;
}

done_testing;
