#!/usr/bin/perl
# HTTP/2 streams reset by the client (RST_STREAM) in the middle of an
# upload and right after its last byte, while the JPEG is still being
# hashed (in the thread pool and in the event loop): the worker survives,
# nothing reaches the upstream, and the connection goes on serving its
# other streams.  Raw HTTP/2 frames over a socket, so that the reset lands
# exactly where the test puts it.

use strict;
use warnings;
use lib 't/lib';
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use UFTest;
use UFH2 qw(frame hpack h2_connect h2_read put reset_stream h2_wait);

my $t = UFTest->new;

# a listed image, and a copy of it big enough to take a while to hash
my $orig = "$UFTest::ROOT/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg";
my $listed = $t->pdq_hash('--exact', $orig);
$t->listed(source => 'pdq-test', format => 'pdq',
           lines => ["$listed,100,bridge"]);
my $copy = $t->jpeg_transform($orig, 'copy.jpg', 'resize', 150);

$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    h2only => 1,
    server => 'client_max_body_size 50m;',
    proxied => ['/inline/' => 'upload_filter_thread_pool off;'],
    locations => <<'EOF2'));

        location = /alive {
            return 204;
        }
EOF2

sub alive {   # a new stream on the same connection gets its answer
    my ($c, $stream) = @_;
    print { $c->{sock} } frame(1, 5, $stream,
        hpack(':method' => 'GET', ':scheme' => 'http', ':path' => '/alive',
              ':authority' => 'localhost'));
    return h2_wait($c, $stream) ? 1 : 0;
}

# --- the tests ----------------------------------------------------------------

my ($pid0) = $t->worker_stats;

for my $where ('/', '/inline/') {
    my $c = h2_connect($t->{port});
    h2_read($c, 0.2);
    my $stream = 1;
    my $served = 0;

    # reset half-way through the body
    put($c, $stream, "${where}half.jpg", $copy, length($copy) >> 1);
    reset_stream($c, $stream);
    $served += alive($c, $stream + 2);
    $stream += 4;

    # reset right after the last byte, and a little later: before, while
    # and after the image is hashed
    for my $delay (0, 0.001, 0.003, 0.01, 0.03) {
        put($c, $stream, "${where}end.jpg", $copy);
        sleep $delay if $delay;
        reset_stream($c, $stream);
        $served += alive($c, $stream + 2);
        $stream += 4;
    }

    is($served, 6, "$where: after each of 6 resets the connection serves "
                   . 'its next stream');
    close $c->{sock};
}

sleep 0.5;
is($t->connections, 0, 'no reset upload reached the upstream')
    or diag join "\n", map { "$_->{method} $_->{uri}" } $t->records;
diag $t->access_log if $ENV{UF_DEBUG};
my ($pid1) = $t->worker_stats;
is($pid1, $pid0, 'the same worker is still serving');

# the worker still judges uploads after all of it
my $c = h2_connect($t->{port});
h2_read($c, 0.2);
put($c, 1, '/after.jpg', $copy);
ok(h2_wait($c, 1), 'a complete upload of the copy on a new connection is answered');
like($t->error_log, qr/upload_filter: match .*digest=pdq:.*request: "PUT \/after\.jpg/,
     'and blocked as a PDQ match');
is($t->connections, 0, 'still nothing upstream');

$t->finish;
done_testing;
