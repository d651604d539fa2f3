#!/usr/bin/perl
# upload_filter_action log: matches pass and are logged; and
# upload_filter_status sets the status of a block.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex md5_hex multipart);

my $t = UFTest->new;
my $listed = "listed stand-in for monitor mode\n" x 10;
$t->listed(source => 'monitor-list', category => 'A2', lines => [md5_hex($listed)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    proxied => ['/monitor/' => 'upload_filter_action log;',
                '/451/' => 'upload_filter_status 451;']));

my $resp = $t->request('PUT', '/monitor/a', $listed);
is(UFTest::status($resp), 200, 'monitor mode: a listed upload passes');
my @r = $t->records;
ok(@r == 1 && $r[0]{body} eq $listed, 'monitor mode: forwarded whole');
$t->clear_records;
like($t->error_log, qr/\[warn\].*upload_filter: match action=log digest=md5:\Q${\ md5_hex($listed)}\E source="monitor-list" category="A2" part=body size=330/,
     'monitor mode: the match is logged with action=log');
$t->like_access(qr{^PUT /monitor/a 200 result=match match=md5:\Q${\ md5_hex($listed)}\E source=monitor-list category=A2}m,
     'monitor mode: variables say match');

my $body = multipart('m', ['a', 'a', $listed], ['b', 'b', 'clean'], ['c', 'c', $listed]);
$resp = $t->request('POST', '/monitor/m', $body, 'Content-Type' => 'multipart/form-data; boundary=m');
is(UFTest::status($resp), 200, 'monitor mode multipart: passes');
is(scalar(() = $t->error_log =~ /match action=log .* part=[13] /g), 2,
   'monitor mode multipart: every listed part is logged');
$t->clear_records;

$resp = $t->request('PUT', '/451/a', $listed);
is(UFTest::status($resp), 451, 'upload_filter_status 451');
is($t->connections, 0, 'and nothing upstream');

$t->finish;
done_testing;
