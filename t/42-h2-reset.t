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

my $t = UFTest->new;

# a listed image, and a copy of it big enough to take a while to hash
my $orig = "$UFTest::ROOT/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg";
my $listed = $t->pdq_hash('--exact', $orig);
$t->listed(source => 'pdq-test', format => 'pdq',
           lines => ["$listed,100,bridge"]);
my $copy = $t->jpeg_transform($orig, 'copy.jpg', 'resize', 150);

$t->start_upstream;
$t->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%% http2;
        client_max_body_size 50m;
        upload_filter on;

        location / {
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location /inline/ {
            upload_filter_thread_pool off;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location = /alive {
            return 204;
        }
    }
EOF2

# --- a minimal HTTP/2 client ------------------------------------------------

sub frame {
    my ($type, $flags, $stream, $payload) = @_;
    return substr(pack('N', length $payload), 1)
           . pack('CCN', $type, $flags, $stream) . $payload;
}

sub hpack {   # literal header fields without indexing, new names
    my @h = @_;
    my $b = '';
    while (my ($n, $v) = splice @h, 0, 2) {
        $b .= "\x00" . chr(length $n) . $n . chr(length $v) . $v;
    }
    return $b;
}

sub h2_connect {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->{port}) or die "connect: $!";
    binmode $s;
    $s->autoflush(1);
    print $s "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", frame(4, 0, 0, '');
    return { sock => $s, sel => IO::Select->new($s), buf => '',
             conn_window => 65535, init_window => 65535, windows => {},
             headers => {}, reset => {} };
}

# reads what the server sent within $wait seconds; keeps the windows
sub h2_read {
    my ($c, $wait) = @_;
    my $until = time + $wait;
    while (1) {
        my $left = $until - time;
        last if $left <= 0 || !$c->{sel}->can_read($left);
        my $n = sysread $c->{sock}, my $chunk, 65536;
        last unless $n;
        $c->{buf} .= $chunk;
        while (length $c->{buf} >= 9) {
            my ($l1, $l2, $type, $flags, $stream) = unpack 'CnCCN', $c->{buf};
            my $len = $l1 << 16 | $l2;
            last if length $c->{buf} < 9 + $len;
            my $p = substr $c->{buf}, 9, $len;
            substr($c->{buf}, 0, 9 + $len) = '';
            $stream &= 0x7fffffff;
            if ($type == 4 && !($flags & 1)) {             # SETTINGS
                for (my $i = 0; $i + 6 <= $len; $i += 6) {
                    my ($id, $v) = unpack 'nN', substr $p, $i, 6;
                    $c->{init_window} = $v if $id == 4;
                }
                print { $c->{sock} } frame(4, 1, 0, '');
            } elsif ($type == 8) {                           # WINDOW_UPDATE
                my $inc = unpack('N', $p) & 0x7fffffff;
                if ($stream) { $c->{windows}{$stream} += $inc }
                else { $c->{conn_window} += $inc }
            } elsif ($type == 1) {                           # HEADERS
                $c->{headers}{$stream} = 1;
            } elsif ($type == 3) {                           # RST_STREAM
                $c->{reset}{$stream} = 1;
            }
        }
    }
}

# sends a PUT of $body on $stream, all of it (END_STREAM on the last
# DATA frame) or only its first $cut bytes
sub put {
    my ($c, $stream, $path, $body, $cut) = @_;
    my $s = $c->{sock};
    print $s frame(1, 4, $stream,
                   hpack(':method' => 'PUT', ':scheme' => 'http',
                         ':path' => $path, ':authority' => 'localhost',
                         'content-length' => length $body));
    $c->{windows}{$stream} = $c->{init_window};
    my $sent = 0;
    my $end = defined $cut ? $cut : length $body;
    while ($sent < $end) {
        my $room = $c->{conn_window};
        $room = $c->{windows}{$stream} if $c->{windows}{$stream} < $room;
        $room = 16384 if $room > 16384;
        $room = $end - $sent if $end - $sent < $room;
        if ($room <= 0) {
            h2_read($c, 0.2);
            next;
        }
        my $last = !defined $cut && $sent + $room == length $body;
        print $s frame(0, $last ? 1 : 0, $stream, substr $body, $sent, $room);
        $sent += $room;
        $c->{conn_window} -= $room;
        $c->{windows}{$stream} -= $room;
        h2_read($c, 0);
    }
}

sub reset_stream {
    my ($c, $stream) = @_;
    print { $c->{sock} } frame(3, 0, $stream, pack('N', 8));   # CANCEL
}

# waits up to 5 s for the response headers, or a reset, of $stream
sub h2_wait {
    my ($c, $stream) = @_;
    for (1 .. 50) {
        last if $c->{headers}{$stream} || $c->{reset}{$stream};
        h2_read($c, 0.1);
    }
    return $c->{headers}{$stream};
}

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
    my $c = h2_connect();
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
my $c = h2_connect();
h2_read($c, 0.2);
put($c, 1, '/after.jpg', $copy);
ok(h2_wait($c, 1), 'a complete upload of the copy on a new connection is answered');
like($t->error_log, qr/upload_filter: match .*digest=pdq:.*request: "PUT \/after\.jpg/,
     'and blocked as a PDQ match');
is($t->connections, 0, 'still nothing upstream');

$t->finish;
done_testing;
