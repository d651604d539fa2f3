#!/usr/bin/perl
# Bodies whose Content-Length does not match what is sent: the verdict is
# on exactly the bytes Content-Length names, which are exactly the bytes
# the upstream gets; what follows is the next request, never part of the
# body; contradictory or invalid lengths are refused before any body byte
# is read.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $listed = "a listed file, forty bytes long.........";
my $clean = "a clean file, forty bytes long..........";
is(length $listed, 40, 'the stand-ins are 40 bytes');
$t->listed(lines => [sha256_hex($listed)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(server => 'client_body_timeout 2s;'));

# one connection, raw bytes; the whole answer (all responses)
sub send_raw {
    my ($bytes, %o) = @_;
    return $t->raw($bytes, timeout => $o{timeout} // 4);
}

# longer than Content-Length: the listed file hides behind a clean prefix
my $resp = send_raw("PUT /long1 HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
                    . $clean . $listed);
is(UFTest::status($resp), 200, 'the 40 bytes named are clean: 200');
my @r = $t->records;
is(scalar @r, 1, 'one request reached the upstream');
is($r[0]{body}, $clean, 'with exactly the 40 bytes Content-Length names');
like($resp, qr{HTTP/1\.1 400}, 'the extra bytes are read as a next request, '
     . 'and refused as a bad one (400)');
unlike(join('', map { $_->{body} // '' } @r), qr/listed/,
       'the listed bytes never reached the upstream');
$t->clear_records;

# longer than Content-Length, the listed file first: blocked, and the
# connection is closed so nothing after it runs
$resp = send_raw("PUT /long2 HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
                 . $listed . "PUT /after HTTP/1.1\r\nHost: x\r\n"
                 . "Content-Length: 40\r\n\r\n$clean");
is(UFTest::status($resp), 403, 'the 40 bytes named are listed: 403');
is(() = $resp =~ m{HTTP/1\.1 \d+}g, 1, 'one response only');
is($t->connections, 0, 'nothing reached the upstream');

# a listed file split across the boundary Content-Length sets is two
# things, neither of them listed
$resp = send_raw("PUT /split HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n"
                 . $listed);
is(UFTest::status($resp), 200, 'the first 20 bytes of a listed file are not it: 200');
@r = $t->records;
is($r[0]{body}, substr($listed, 0, 20), 'the upstream got those 20 bytes');
$t->clear_records;

# shorter than Content-Length, then the client waits: nginx gives up at
# client_body_timeout (408: the connection is closed without a response)
$resp = send_raw("PUT /short HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n"
                 . $listed, timeout => 5);
is($resp, '', 'a body shorter than its Content-Length: closed, no response');
is($t->connections, 0, 'nothing reached the upstream');
$t->like_access(qr{^PUT /short 408 result=- }m,
                'logged as 408, with no verdict (not "clean")');

# contradictory or invalid lengths: refused before any body byte
for my $case (
    ["Content-Length: 40\r\nContent-Length: 41", 'two Content-Length headers'],
    ["Content-Length: 40\r\nTransfer-Encoding: chunked", 'Content-Length and chunked'],
    ["Content-Length: -40", 'a negative Content-Length'],
    ["Content-Length: 4O", 'a Content-Length that is not a number'],
    ["Content-Length: 99999999999999999999", 'a Content-Length past 2^63'],
) {
    my ($h, $name) = @$case;
    $resp = send_raw("PUT /bad HTTP/1.1\r\nHost: x\r\n$h\r\n\r\n$listed");
    is(UFTest::status($resp), 400, "$name: 400");
}
is($t->connections, 0, 'none of them reached the upstream');

$t->finish;
done_testing;
