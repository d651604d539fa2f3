#!/usr/bin/perl
# Hostile and broken HTTP: client aborts mid-body, bad chunked framing,
# slow uploads, HTTP/2 aborts, thousands of empty parts.  No worker
# crash, nothing upstream, no temporary file or descriptor left behind,
# no memory growth.

use strict;
use warnings;
use lib 't/lib';
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);
use UFTest qw(sha256_hex multipart);

my $t = UFTest->new;
$t->listed(lines => [sha256_hex('listed')]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(http2 => 1, server => <<'EOF2'));
client_max_body_size 10m;
client_body_buffer_size 8k;
client_body_timeout 1s;
EOF2

sub temp_files {
    my @f = grep { -f } (glob($t->dir . '/client_body/*'), glob($t->dir . '/client_body/*/*'),
                         glob($t->dir . '/client_body/*/*/*'));
    return scalar @f;
}

sub settle {   # nginx frees a request when its connection closes
    for (1 .. 40) { last if !temp_files(); sleep 0.05 }
}

my $body = 'z' x 100_000;
my ($pid0, $fds0, $rss0) = $t->worker_stats;
ok($pid0, "worker $pid0 with $fds0 descriptors, $rss0 KiB resident");

# client aborts mid-body, Content-Length and chunked, many times
for my $i (1 .. 200) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{port}) or die;
    if ($i % 2) {
        print $s "PUT /abort HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n", $body;
    } else {
        print $s "PUT /abort HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                 sprintf("%x\r\n", length $body), $body, "\r\n";
    }
    close $s;
}
sleep 0.5;
settle();
is($t->connections, 0, '200 uploads aborted mid-body: nothing reached the upstream');
is(temp_files(), 0, 'no temporary file left behind');
my ($pid1, $fds1, $rss1) = $t->worker_stats;
is($pid1, $pid0, 'the same worker is still serving');
is($fds1, $fds0, 'no descriptor leaked');
SKIP: {
    # ASan keeps freed memory in its quarantine: RSS says nothing there
    skip 'resident memory is not meaningful under AddressSanitizer', 1 if $UFTest::ASAN;
    ok($rss1 - $rss0 < 4096, "resident memory grew by less than 4 MiB ($rss0 -> $rss1 KiB)");
}

# bad chunked framing
my $resp = $t->raw("PUT /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   . "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
is(UFTest::status($resp), 400, 'a bad chunk size: 400');
$resp = $t->raw("PUT /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                . "Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n");
is(UFTest::status($resp), 400, 'a chunk longer than its size: 400');
is($t->connections, 0, 'nothing upstream');

# a slow upload (slowloris): client_body_timeout applies
$resp = $t->raw(["PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc",
                 "def"], pause => 1.5, timeout => 5);
ok(UFTest::status($resp) == 408 || $resp eq '',
   'a body that stalls: closed after client_body_timeout');
$t->like_access(qr{^PUT /slow 408 }m, 'logged as 408');
is($t->connections, 0, 'nothing upstream');

# HTTP/2 uploads aborted by the client
SKIP: {
    skip 'curl without HTTP/2', 2 unless `curl -V` =~ /HTTP2/;
    my $f = $t->write_file('big.bin', 'y' x 2_000_000);
    for (1 .. 5) {
        system("curl -s -o /dev/null --http2-prior-knowledge --limit-rate 200k "
               . "--max-time 0.5 -T $f http://127.0.0.1:$t->{port2}/h2abort");
    }
    sleep 0.5;
    settle();
    is($t->connections, 0, 'HTTP/2 uploads aborted mid-body: nothing upstream');
    is(temp_files(), 0, 'HTTP/2: no temporary file left behind');
}

# thousands of empty parts, and a part header that never ends
my $many = multipart('e', map { ["p$_", undef, ''] } 1 .. 5000);
$resp = $t->request('POST', '/many', $many, 'Content-Type' => 'multipart/form-data; boundary=e');
is(UFTest::status($resp), 400, '5000 empty parts: 400 (upload_filter_max_parts 1000)');
$resp = $t->request('POST', '/hdr', "--e\r\nX: " . ('h' x 100_000),
                    'Content-Type' => 'multipart/form-data; boundary=e');
is(UFTest::status($resp), 400, 'a part header of 100 KB: 400');
is($t->connections, 0, 'nothing upstream');

my ($pid2) = $t->worker_stats;
is($pid2, $pid0, 'the worker survived all of it');

$t->finish;
done_testing;
