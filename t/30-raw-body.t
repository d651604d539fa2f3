#!/usr/bin/perl
# Raw (non-multipart) bodies: PUT and POST, Content-Length and chunked,
# bodies larger than client_body_buffer_size, HTTP/2, and what the
# upstream receives.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex sha1_hex md5_hex);

my $t = UFTest->new;

my $listed = "listed stand-in file\n" x 50;
my $big_listed = join '', map { chr(($_ * 7) % 256) } 1 .. 300_000;
my $clean = "a clean upload\n" x 100;
my $big_clean = $big_listed . 'x';
my $mid_listed = substr($big_listed, 0, 30_000);
my $mid_clean = $mid_listed . 'x';

# a 1-byte client_body_buffer_size costs a system call per byte: give a
# loaded machine time
$t->{timeout} = 30;

$t->listed(source => 'police-test', category => 'A1',
           lines => [sha256_hex($listed), sha256_hex($big_listed),
                     sha256_hex($mid_listed)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    http2 => 1,
    server => "client_body_buffer_size 16k;\nclient_max_body_size 10m;",
    proxied => ['/tiny/' => 'client_body_buffer_size 1;',
                '/off/' => 'upload_filter off;']));

sub check_blocked {
    my ($resp, $what) = @_;
    is(UFTest::status($resp), 403, "$what: 403");
    is($t->connections, 0, "$what: upstream never connected");
    $t->clear_records;
}

sub check_clean {
    my ($resp, $body, $what) = @_;
    is(UFTest::status($resp), 200, "$what: 200");
    my @r = $t->records;
    is(scalar @r, 1, "$what: one request upstream");
    ok(@r && $r[0]{body} eq $body, "$what: upstream got the same bytes");
    $t->clear_records;
}

check_blocked($t->request('PUT', '/up/a.bin', $listed), 'listed PUT');
check_blocked($t->request('POST', '/up', $listed,
                          'Content-Type' => 'image/jpeg'), 'listed POST');
check_clean($t->request('PUT', '/up/b.bin', $clean), $clean, 'clean PUT');
check_clean($t->request('POST', '/up', $clean,
                        'Content-Type' => 'application/x-www-form-urlencoded'),
            $clean, 'clean POST');

# larger than client_body_buffer_size: the body spills to a temp file
check_blocked($t->request('PUT', '/up/big', $big_listed), 'listed 300 KB');
check_clean($t->request('PUT', '/up/big', $big_clean), $big_clean,
            'clean 300 KB');
check_blocked($t->request('PUT', '/tiny/big', $mid_listed),
              'listed 30 KB, client_body_buffer_size 1');
check_clean($t->request('PUT', '/tiny/big', $mid_clean), $mid_clean,
            'clean 30 KB, client_body_buffer_size 1');

# chunked, with chunk boundaries everywhere
sub chunked { UFTest::chunked(@_) }

for my $size (1, 7, 4096) {
    my $req = "PUT /up/chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              . "Transfer-Encoding: chunked\r\n\r\n";
    check_blocked($t->raw($req . chunked($listed, $size)),
                  "listed chunked ($size-byte chunks)");
    check_clean($t->raw($req . chunked($clean, $size)), $clean,
                "clean chunked ($size-byte chunks)");
}

# the body arriving in pieces with pauses between them
check_blocked($t->raw(["PUT /up/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       . "Content-Length: " . length($listed) . "\r\n\r\n",
                       substr($listed, 0, 100), substr($listed, 100)]),
              'listed, sent in pieces');

# HTTP/2 (h2c with prior knowledge), with and without a content length
SKIP: {
    skip 'curl without HTTP/2', 8 unless `curl -V` =~ /HTTP2/;
    my $f = $t->write_file('listed.bin', $listed);
    my $g = $t->write_file('clean.bin', $clean);
    my $url = "http://127.0.0.1:$t->{port2}/up/h2";
    my $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T $f $url`;
    is($code, '403', 'HTTP/2 listed PUT: 403');
    is($t->connections, 0, 'HTTP/2 listed PUT: upstream never connected');
    $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T $g $url`;
    is($code, '200', 'HTTP/2 clean PUT: 200');
    my @r = $t->records;
    ok(@r == 1 && $r[0]{body} eq $clean, 'HTTP/2 clean PUT: same bytes upstream');
    $t->clear_records;
    # no content length: curl streams stdin
    $code = `cat $f | curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T - $url`;
    is($code, '403', 'HTTP/2 listed, no content length: 403');
    is($t->connections, 0, 'HTTP/2 no content length: upstream never connected');
    my $big = $t->write_file('big.bin', $big_listed);
    $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T $big $url`;
    is($code, '403', 'HTTP/2 listed 300 KB: 403');
    is($t->connections, 0, 'HTTP/2 listed 300 KB: upstream never connected');
    $t->clear_records;
}

# upload_filter off: passed as is
check_clean($t->request('PUT', '/off/x', $listed), $listed,
            'listed PUT where upload_filter is off');

# GET without a body is not inspected: empty $upload_filter_result
$t->request('GET', '/plain');
$t->clear_records;

my $log = $t->error_log;
like($log, qr/\[warn\].*upload_filter: match action=block digest=sha256:\Q${\ sha256_hex($listed)}\E source="police-test" category="A1" part=body size=1050, client: 127\.0\.0\.1, server: , request: "PUT \/up\/a\.bin HTTP\/1\.1", host: "localhost"/,
     'error log: one warn line with digest, source, category, size, client, URI, host');

$t->like_access(qr{^GET /plain \d+ result=- match=-}m,
     'access log: a request without a body is not inspected');
my $access = $t->access_log;
like($access, qr{^PUT /up/a\.bin 403 result=match match=sha256:\Q${\ sha256_hex($listed)}\E source=police-test category=A1}m,
     'access log: $upload_filter_result, _match, _source, _category');
like($access, qr{^PUT /up/b\.bin 200 result=clean match=- source=- category=- reason="-"}m,
     'access log: a clean upload');

$t->finish;
done_testing;
