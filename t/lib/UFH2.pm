package UFH2;

# A minimal HTTP/2 client over a raw socket, for tests that must put a
# frame exactly where they want it (a reset in the middle of an upload, a
# stream left open): SETTINGS and WINDOW_UPDATE are kept, HEADERS and
# RST_STREAM of each stream noted.

use strict;
use warnings;

use Exporter qw(import);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

our @EXPORT_OK = qw(frame hpack h2_connect h2_read put reset_stream h2_wait);

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
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port) or die "connect: $!";
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
# DATA frame) or only its first $cut bytes; %o: method, headers (more
# header fields, an array ref), no_length (no content-length)
sub put {
    my ($c, $stream, $path, $body, $cut, %o) = @_;
    my $s = $c->{sock};
    print $s frame(1, 4, $stream,
                   hpack(':method' => $o{method} // 'PUT', ':scheme' => 'http',
                         ':path' => $path, ':authority' => 'localhost',
                         ($o{no_length} ? ()
                                        : ('content-length' => length $body)),
                         @{ $o{headers} // [] }));
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

1;
