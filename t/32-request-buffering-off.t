#!/usr/bin/perl
# proxy_request_buffering off: nginx would stream the body upstream as it
# arrives; with the filter on, a listed upload never reaches the upstream,
# not even a connection or the request headers.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $listed = "listed stand-in " x 20_000;
my $clean = "clean content " x 20_000;
$t->listed(lines => [sha256_hex($listed)]);
$t->start_upstream;
$t->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 10m;
        proxy_request_buffering off;
        proxy_http_version 1.1;

        location / {
            upload_filter on;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location /unfiltered/ {
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }
    }
EOF2

sub slow_put {
    my ($uri, $body, %o) = @_;
    my $half = int(length($body) / 2);
    my $head = "PUT $uri HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    $head .= $o{chunked}
        ? "Transfer-Encoding: chunked\r\n\r\n"
        : "Content-Length: " . length($body) . "\r\n\r\n";
    my @pieces = $o{chunked}
        ? (sprintf("%x\r\n%s\r\n", $half, substr($body, 0, $half)),
           sprintf("%x\r\n%s\r\n0\r\n\r\n", length($body) - $half, substr($body, $half)))
        : (substr($body, 0, $half), substr($body, $half));
    return $t->raw([$head, @pieces], pause => 0.5);
}

# first, what the test can see: without the filter, the upstream is
# connected while the body is still arriving
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{port});
    print $s "PUT /unfiltered/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           . "Content-Length: " . length($listed) . "\r\n\r\n" . substr($listed, 0, 1000);
    my $seen = 0;
    for (1 .. 40) { $seen = $t->connections and last; sleep 0.05; }
    ok($seen, 'without the filter, nginx connects upstream before the body ends');
    close $s;
    sleep 0.3;
    $t->clear_records;
}

for my $chunked (0, 1) {
    my $how = $chunked ? 'chunked' : 'content length';
    my $resp = slow_put('/up', $listed, chunked => $chunked);
    is(UFTest::status($resp), 403, "$how: listed upload sent in two halves: 403");
    is($t->connections, 0, "$how: the upstream was never connected");
    $t->clear_records;

    $resp = slow_put('/up', $clean, chunked => $chunked);
    is(UFTest::status($resp), 200, "$how: clean upload: 200");
    my @r = $t->records;
    ok(@r == 1 && $r[0]{body} eq $clean, "$how: clean upload forwarded whole");
    $t->clear_records;
}

$t->finish;
done_testing;
