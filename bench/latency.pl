#!/usr/bin/perl
# Sequential uploads on one keep-alive connection, each a fresh random
# body (so each is a lookup of a new digest, on pages of its own), timed
# one by one:
#   bench/latency.pl PORT COUNT [SIZE]
# prints "p50_ms p99_ms max_ms failed" (failed: responses other than 2xx).

use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(time);

my ($port, $count, $size) = @ARGV;
die "usage: $0 PORT COUNT [SIZE]\n" unless $port && $count;
$size ||= 256;

open my $rnd, '<', '/dev/urandom' or die "urandom: $!";
my ($s, @ms);
my $failed = 0;

for (1 .. $count) {
    $s //= IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "connect: $!";
    my $body;
    read $rnd, $body, $size;
    my $req = "POST /upload HTTP/1.1\r\nHost: bench\r\n"
            . "Content-Type: application/octet-stream\r\n"
            . "Content-Length: $size\r\n\r\n$body";
    my $t0 = time;
    syswrite $s, $req;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread $s, $buf, 4096, length $buf;
        die "connection closed\n" unless $n;
    }
    push @ms, (time - $t0) * 1000;
    $failed++ unless $buf =~ m{^HTTP/1\.1 2};
    if ($buf =~ /Content-Length: (\d+)/i && $1 > 0) {
        # no bodies expected from the bench's backend; do not reuse
        undef $s;
    }
}

@ms = sort { $a <=> $b } @ms;
printf "%.2f %.2f %.2f %d\n", $ms[int(@ms * 0.5)], $ms[int(@ms * 0.99)],
       $ms[-1], $failed;
