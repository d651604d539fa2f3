#!/usr/bin/perl
#
# A recording upstream for the tests and the demo.
#
#   upstream.pl http|fastcgi PORT RECORD_DIR
#
# Every request it receives is written to RECORD_DIR as one file
# (req-<time>-<pid>-<n>): "METHOD URI" on the first line, then the
# headers (HTTP) or params (FastCGI) as "name: value" lines, an empty
# line, and the body exactly as received (de-chunked).  The file appears
# (by rename) before the response is sent, so a client that has its
# response can look for it.  Each accepted connection also leaves an
# empty conn-<time>-<pid> file, so that a test can tell that nginx never
# connected at all.

use strict;
use warnings;

use IO::Socket::INET;
use Time::HiRes qw(time);

my ($mode, $port, $dir) = @ARGV;
die "usage: $0 http|fastcgi PORT RECORD_DIR\n"
    unless $mode && $mode =~ /^(http|fastcgi)$/ && $port && $dir;

my $srv = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 128,
    ReuseAddr => 1, Proto => 'tcp')
    or die "upstream: listen 127.0.0.1:$port: $!\n";

$SIG{CHLD} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };

my $seq = 0;

while (1) {
    my $c = $srv->accept or next;
    $seq++;
    my $pid = fork;
    if (!defined $pid) { close $c; next; }
    if ($pid) { close $c; next; }
    close $srv;
    binmode $c;
    # a marker per connection: tests check that nothing connected at all
    open my $m, '>', sprintf("%s/conn-%.6f-%d", $dir, time, $$);
    close $m;
    eval { $mode eq 'http' ? serve_http($c) : serve_fastcgi($c) };
    exit 0;
}

sub record {
    my ($head, $body) = @_;
    my $name = sprintf "req-%.6f-%d-%d", time, $$, $seq++;
    open my $f, '>', "$dir/.$name" or die "upstream: $dir: $!\n";
    binmode $f;
    print $f $head, "\n", $body;
    close $f;
    rename "$dir/.$name", "$dir/$name";
}

sub read_exact {
    my ($c, $n) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $got = sysread $c, $buf, $n - length $buf, length $buf;
        die "short read\n" unless $got;
    }
    return $buf;
}

sub read_line {
    my ($c) = @_;
    my $line = '';
    while ($line !~ /\n\z/) {
        my $got = sysread $c, my $ch, 1;
        die "eof\n" unless $got;
        $line .= $ch;
        die "line too long\n" if length $line > 65536;
    }
    return $line;
}

sub serve_http {
    my ($c) = @_;
    while (1) {
        my $req = read_line($c);
        $req =~ s/\r?\n\z//;
        my ($method, $uri) = split / /, $req;
        my (%h, $head);
        $head = "$method $uri\n";
        while ((my $l = read_line($c)) !~ /^\r?\n\z/) {
            $l =~ s/\r?\n\z//;
            my ($k, $v) = split /:\s*/, $l, 2;
            $h{lc $k} = $v;
            $head .= "$l\n";
        }
        my $body = '';
        if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            while (1) {
                my $size = hex read_line($c);
                if ($size == 0) {
                    1 while read_line($c) !~ /^\r?\n\z/;    # trailers
                    last;
                }
                $body .= read_exact($c, $size);
                read_line($c);
            }
        } elsif ($h{'content-length'}) {
            $body = read_exact($c, $h{'content-length'});
        }
        record($head, $body);
        my $text = sprintf "received %d bytes\n", length $body;
        my $keep = ($h{connection} // '') =~ /keep-alive/i;
        print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
            "Content-Length: ", length $text, "\r\n",
            "Connection: ", ($keep ? "keep-alive" : "close"), "\r\n\r\n",
            $text;
        return unless $keep;
    }
}

sub fcgi_record {
    my ($c) = @_;
    my ($ver, $type, $id, $len, $pad) = unpack 'CCnnC', read_exact($c, 8);
    my $content = $len ? read_exact($c, $len) : '';
    read_exact($c, $pad) if $pad;
    return ($type, $id, $content);
}

sub fcgi_send {
    my ($c, $type, $id, $content) = @_;
    print $c pack('CCnnCC', 1, $type, $id, length $content, 0, 0), $content;
}

sub serve_fastcgi {
    my ($c) = @_;
    my ($params, $body, $id) = ('', '', 1);
    while (1) {
        my ($type, $rid, $content) = fcgi_record($c);
        $id = $rid;
        if ($type == 4) {
            $params .= $content;
        } elsif ($type == 5) {
            last if $content eq '';
            $body .= $content;
        }
    }
    my %p;
    while (length $params) {
        my ($nl, $vl);
        ($nl, $params) = fcgi_len($params);
        ($vl, $params) = fcgi_len($params);
        my $n = substr $params, 0, $nl, '';
        $p{$n} = substr $params, 0, $vl, '';
    }
    my $head = "$p{REQUEST_METHOD} $p{REQUEST_URI}\n";
    $head .= "$_: $p{$_}\n" for sort keys %p;
    record($head, $body);
    my $text = sprintf "received %d bytes\n", length $body;
    fcgi_send($c, 6, $id, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n$text");
    fcgi_send($c, 6, $id, '');
    fcgi_send($c, 3, $id, pack('NCCCC', 0, 0, 0, 0, 0));
    close $c;
}

sub fcgi_len {
    my ($s) = @_;
    my $b = ord $s;
    return ($b, substr $s, 1) if $b < 128;
    return (unpack('N', $s) & 0x7fffffff, substr $s, 4);
}
