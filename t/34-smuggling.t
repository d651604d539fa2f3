#!/usr/bin/perl
# A request hidden in the unread rest of a blocked body is never
# executed: the connection is closed after the rejection.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex multipart);

my $t = UFTest->new;
my $listed = "listed stand-in for smuggling\n" x 100;
$t->listed(lines => [sha256_hex($listed)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(server => 'client_body_buffer_size 4k;'));

my $b = 'smuggle';
my $first = "--$b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n"
          . $listed . "\r\n--$b\r\n";
my $hidden = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
my $rest = $hidden . "\r\n--$b--\r\n";
my $head = "POST /up HTTP/1.1\r\nHost: x\r\n"
         . "Content-Type: multipart/form-data; boundary=$b\r\n"
         . "Content-Length: " . length($first . $rest) . "\r\n\r\n";

my $resp = $t->raw([$head . $first, $rest], pause => 0.5, timeout => 3);
is(UFTest::status($resp), 403, 'the upload is rejected at the listed part');
unlike($resp, qr{HTTP/1\.1 \d+.*HTTP/1\.1}s, 'only one response on the connection');
like($resp, qr/Connection: close/i, 'the rejection closes the connection');
is($t->connections, 0, 'nothing reached the upstream');
# once the rejected upload is logged, a parsed hidden request would be too
$t->like_access(qr{^POST /up 403 }m, 'the rejected upload is logged');
unlike($t->access_log, qr{/smuggled}, 'the hidden request was never parsed');

# the same with keep-alive requested explicitly and the body chunked
my $chunked = sprintf("%x\r\n%s\r\n", length $first, $first)
            . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $rest, $rest);
my $chead = "POST /up HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
          . "Content-Type: multipart/form-data; boundary=$b\r\n"
          . "Transfer-Encoding: chunked\r\n\r\n";
my $split = index($chunked, $hidden);
$resp = $t->raw([$chead . substr($chunked, 0, $split), substr($chunked, $split)],
                pause => 0.5, timeout => 3);
is(UFTest::status($resp), 403, 'chunked, keep-alive: rejected');
like($resp, qr/Connection: close/i, 'chunked, keep-alive: connection closed');
$t->like_access(qr{^(?:.*\n)*POST /up 403 (?:.*\n)*POST /up 403 }, 'chunked: the rejection is logged');
unlike($t->access_log, qr{/smuggled}, 'chunked: the hidden request was never parsed');
is($t->connections, 0, 'chunked: nothing reached the upstream');

$t->finish;
done_testing;
