#!/usr/bin/perl
# Framings that application parsers read differently (issue: the filter
# must see what the application sees): each is refused as malformed
# (400) before anything reaches the upstream, and the log says why.  The
# canonical forms of the same bodies pass unchanged.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha1_hex);

my $t = UFTest->new;

my $listed = join '', map { chr(($_ * 29 + 3) % 256) } 1 .. 5000;
$t->listed(source => 'framing-test', lines => [sha1_hex($listed)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server());

my $B = 'fRaMe7x';
my $ct = "multipart/form-data; boundary=$B";
my $cd = 'Content-Disposition: form-data; name="f"; filename="x.bin"';

sub send_body {
    my ($body, @h) = @_;
    return $t->request('POST', '/up', $body, @h);
}

my @refused = (
    [ 'a LF before the first delimiter',
      "\n--$B\r\n$cd\r\n\r\n$listed\r\n--$B--\r\n", $ct,
      'multipart boundary outside a delimiter' ],
    [ 'a space before the first delimiter',
      " --$B\r\n$cd\r\n\r\n$listed\r\n--$B--\r\n", $ct,
      'multipart boundary outside a delimiter' ],
    [ 'LF-only delimiter lines',
      "--$B\n$cd\n\n$listed\n--$B--\n", $ct,
      'malformed multipart delimiter' ],
    [ 'the closing delimiter first',
      "--$B--\r\n--$B\r\n$cd\r\n\r\n$listed\r\n--$B--\r\n", $ct,
      'multipart body without parts' ],
    [ 'a CRLF that ends empty headers and opens a delimiter',
      "--$B\r\n\r\n--$B\r\n$cd\r\n\r\n$listed\r\n--$B--\r\n", $ct,
      'multipart boundary outside a delimiter' ],
    [ 'a part in the epilogue',
      "--$B\r\n\r\nx\r\n--$B--\r\n--$B\r\n$cd\r\n\r\n$listed\r\n--$B--\r\n",
      $ct, 'multipart boundary outside a delimiter' ],
    [ 'garbage after the closing delimiter',
      "--$B\r\n\r\nx\r\n--$B--junk\r\n--$B\r\n$cd\r\n\r\n$listed\r\n--$B--",
      $ct, 'malformed multipart delimiter' ],
    [ 'transport padding',
      "--$B \r\n$cd\r\n\r\n$listed\r\n--$B--\r\n", $ct,
      'malformed multipart delimiter' ],
    [ 'a folded part header',
      "--$B\r\nContent-Disposition: form-data;\r\n name=\"f\"\r\n\r\n"
      . "$listed\r\n--$B--\r\n", $ct, 'malformed multipart part headers' ],
    [ 'a lone LF in a part header',
      "--$B\r\nContent-Disposition: form-data; name=\"f\"\n\r\n"
      . "$listed\r\n--$B--\r\n", $ct, 'malformed multipart part headers' ],
    [ 'an unknown Content-Transfer-Encoding',
      "--$B\r\n$cd\r\nContent-Transfer-Encoding: x-uue\r\n\r\n$listed\r\n"
      . "--$B--\r\n", $ct, 'unknown Content-Transfer-Encoding in a part' ],
    [ 'a quoted pair in the boundary',
      "--X\\\"Y\r\n$cd\r\n\r\n$listed\r\n--X\\\"Y--\r\n",
      'multipart/form-data; boundary="X\\"Y"',
      'quoted pair in a multipart Content-Type' ],
    [ 'two boundary parameters',
      "--b\r\n$cd\r\n\r\n$listed\r\n--b--\r\n",
      'multipart/form-data; boundary=a; boundary=b',
      'two boundary parameters' ],
    [ 'an RFC 2231 boundary',
      "--b\r\n$cd\r\n\r\n$listed\r\n--b--\r\n",
      "multipart/form-data; boundary*=utf-8''b; boundary=c",
      'a second boundary parameter' ],
    [ '"boundary=" inside another parameter',
      "--b\r\n$cd\r\n\r\n$listed\r\n--b--\r\n",
      'multipart/form-data; x="boundary=b"; boundary=c',
      'a second boundary parameter' ],
    [ 'a vertical tab before the type',
      "--b\r\n$cd\r\n\r\n$listed\r\n--b--\r\n",
      "\x0bmultipart/form-data; boundary=b",
      'multipart Content-Type that does not parse' ],
    [ '"multipart" in another type',
      "--b\r\n$cd\r\n\r\n$listed\r\n--b--\r\n",
      'application/x-multipart; boundary=b',
      '"multipart" outside a multipart type' ],
    [ 'multipart without a boundary', $listed, 'multipart/form-data',
      'multipart without a boundary' ],
    [ 'a gzip body that is not gzip', $listed, 'application/octet-stream',
      'invalid compressed body', 'Content-Encoding' => 'gzip' ],
    [ 'Content-Encoding: br', $listed, 'application/octet-stream',
      'unsupported Content-Encoding', 'Content-Encoding' => 'br' ],
);

for my $r (@refused) {
    my ($what, $body, $type, $why, @more) = @$r;
    my $resp = send_body($body, 'Content-Type' => $type, @more);
    is(UFTest::status($resp), 400, "$what: 400");
    is($t->connections, 0, "$what: nothing reached the upstream");
    like($t->error_log, qr/cannot inspect upload: \Q$why\E \(malformed\), rejected/,
         "$what: logged as \"$why\"");
    $t->clear_records;
}

# two Content-Type headers: nginx reads the first, werkzeug joins them
{
    my $body = "--b\r\n$cd\r\n\r\n$listed\r\n--b--\r\n";
    my $resp = $t->raw("POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       . "Content-Type: text/plain\r\n"
                       . "Content-Type: multipart/form-data; boundary=b\r\n"
                       . "Content-Length: " . length($body) . "\r\n\r\n$body");
    is(UFTest::status($resp), 400, 'two Content-Type headers: 400');
    is($t->connections, 0, 'two Content-Type headers: nothing forwarded');
    like($t->error_log, qr/two Content-Type headers \(malformed\)/,
         'two Content-Type headers: logged');
    $t->clear_records;
}

# the canonical forms pass, byte for byte
my @clean = (
    [ 'a plain form', "--$B\r\n$cd\r\n\r\nclean\r\n--$B--\r\n", $ct ],
    [ 'a preamble and an epilogue',
      "this is a preamble\r\n--$B\r\n$cd\r\n\r\nclean\r\n--$B--\r\nbye\r\n",
      $ct ],
    [ 'a quoted boundary with a space',
      "--a b\r\n$cd\r\n\r\nclean\r\n--a b--", 'multipart/form-data; boundary="a b"' ],
    [ 'a boundary that starts with dashes, data full of dashes',
      "----x\r\n$cd\r\n\r\n---x\r\n----y\r\n-----\r\n----x--\r\n",
      'multipart/form-data; boundary=--x' ],
    [ 'a 9 KB header block',
      "--$B\r\n$cd\r\nX-Long: " . ('a' x 9000) . "\r\n\r\nclean\r\n--$B--\r\n",
      $ct ],
);

for my $c (@clean) {
    my ($what, $body, $type) = @$c;
    my $resp = send_body($body, 'Content-Type' => $type);
    is(UFTest::status($resp), 200, "$what: 200");
    my @r = $t->records;
    ok(@r == 1 && $r[0]{body} eq $body, "$what: the upstream got the same bytes");
    $t->clear_records;
}

# a listed file in the preamble or the epilogue is found there
for my $c (['preamble', "$listed\r\n--$B\r\n\r\nx\r\n--$B--\r\n"],
           ['epilogue', "--$B\r\n\r\nx\r\n--$B--\r\n$listed"]) {
    my ($where, $body) = @$c;
    my $resp = send_body($body, 'Content-Type' => $ct);
    is(UFTest::status($resp), 403, "a listed file in the $where: 403");
    is($t->connections, 0, "a listed file in the $where: nothing forwarded");
    like($t->error_log, qr/match action=block digest=sha1:\S+ source="framing-test" category="" part=$where /,
         "the log names the $where");
    $t->clear_records;
}

$t->finish;
done_testing;
