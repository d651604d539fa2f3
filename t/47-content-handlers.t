#!/usr/bin/perl
# The body is read first only where the content handler would read it
# (found by nginx's own test suite with the filter on): empty_gif and
# stub_status refuse a POST with 405 without waiting for its body, and
# grpc_pass, which streams every request body, is not held back unless
# upload_filter_grpc is on.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use UFTest qw(sha1_hex);
use UFH2 qw(frame hpack h2_connect h2_read put h2_wait);

my $t = UFTest->new;

my $listed = join '', map { chr(($_ * 7 + 1) % 256) } 1 .. 3000;
$t->listed(source => 'handlers-test', lines => [sha1_hex($listed)]);
$t->start_upstream;
$t->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT2%% http2;
        upload_filter on;

        location /gif {
            empty_gif;
        }

        location /status {
            stub_status;
        }

        location /grpc {
            grpc_pass grpc://127.0.0.1:%%UPSTREAM%%;
        }

        location /grpc-inspected {
            upload_filter_grpc on;
            grpc_pass grpc://127.0.0.1:%%UPSTREAM%%;
        }
    }
EOF2

# a POST whose body never comes: answered at once, not after a timeout
for my $uri ('/gif', '/status') {
    my $start = time;
    my $resp = $t->raw("POST $uri HTTP/1.1\r\nHost: x\r\n"
                       . "Content-Length: 100000\r\n\r\npartial",
                       timeout => 5, until => qr/\r\n\r\n/);
    is(UFTest::status($resp), 405, "$uri: a POST gets its 405");
    ok(time - $start < 3, "$uri: without waiting for the body");
}

unlike($t->error_log, qr/cannot inspect upload/,
       'nothing of those bodies was inspected');

# gRPC: the stream stays open, the client waits for the server
{
    my $c = h2_connect($t->{port2});
    h2_read($c, 0.2);
    put($c, 1, '/grpc', $listed, 100, method => 'POST',
        headers => ['content-type' => 'application/grpc', 'te' => 'trailers']);
    my $connected = 0;
    for (1 .. 30) {
        h2_read($c, 0.1);
        last if $connected = $t->connections;
    }
    ok($connected, 'grpc_pass: the upstream is reached while the client '
                   . 'still streams');
    close $c->{sock};
    $t->clear_records;
}

{
    my $c = h2_connect($t->{port2});
    h2_read($c, 0.2);
    put($c, 1, '/grpc-inspected', $listed, 100, method => 'POST',
        headers => ['content-type' => 'application/grpc']);
    h2_read($c, 1);
    is($t->connections, 0, 'upload_filter_grpc on: the body is held '
                           . 'back until its end');
    print { $c->{sock} } frame(0, 1, 1, substr $listed, 100);
    ok(h2_wait($c, 1), 'upload_filter_grpc on: answered after the last byte');
    is($t->connections, 0, 'upload_filter_grpc on: a listed message is '
                           . 'never forwarded');
    close $c->{sock};
}

like($t->error_log, qr/match action=block digest=sha1:\S+ source="handlers-test"/,
     'upload_filter_grpc on: the match is logged');

$t->finish;
done_testing;
