#!/usr/bin/perl
# What applications decode before they store a file is decoded and hashed
# too: a part's base64 or quoted-printable, multipart inside a part, a
# gzip or deflate request body, urlencoded form values, base64 strings
# and data: URIs in JSON.  Each hides a listed file from a filter that
# hashes only the bytes on the wire; each is blocked here, and the same
# encodings of clean files pass byte for byte.  Decompression bombs are
# too_large.

use strict;
use warnings;
use lib 't/lib';
use Compress::Zlib ();
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Compress::Deflate qw(deflate $DeflateError);
use IO::Compress::RawDeflate qw(rawdeflate $RawDeflateError);
use MIME::Base64 qw(encode_base64);
use MIME::QuotedPrint qw(encode_qp);
use Test::More;
use UFTest qw(sha1_hex sha256_hex);

my $t = UFTest->new;

my $listed = join '', map { chr(($_ * 31 + 7) % 256) } 1 .. 30_000;
my $clean = join '', map { chr(($_ * 37 + 11) % 256) } 1 .. 30_000;

my $orig = "$UFTest::ROOT/t/data/pdq-vectors/images/bridge-mods--aaa-orig.jpg";
my $pdq = $t->pdq_hash('--exact', $orig);
my $photo = $t->jpeg_transform($orig, 'copy.jpg', 'resize', 80);

$t->listed(source => 'decode-test', lines => [sha256_hex($listed)]);
$t->listed(source => 'decode-pdq', format => 'pdq', lines => ["$pdq,100,bridge"]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    server => 'client_max_body_size 50m;',
    proxied => ['/small/' => 'upload_filter_max_decompressed_size 1m;']));

my $B = 'dEc0de';
my $ct = "multipart/form-data; boundary=$B";

sub post {
    my ($body, @h) = @_;
    return $t->request('POST', $h[0] eq 'uri' ? $h[1] : '/up', $body,
                       $h[0] eq 'uri' ? @h[2 .. $#h] : @h);
}

sub part {
    my ($headers, $data) = @_;
    return "--$B\r\nContent-Disposition: form-data; name=\"f\"; "
         . "filename=\"f.bin\"\r\n$headers\r\n$data\r\n--$B--\r\n";
}

sub gz { my $o; gzip(\$_[0] => \$o) or die $GzipError; $o }
sub zl { my $o; deflate(\$_[0] => \$o) or die $DeflateError; $o }
sub rd { my $o; rawdeflate(\$_[0] => \$o) or die $RawDeflateError; $o }
sub pct { my $s = shift; $s =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge; $s }

sub cases {
    my ($file) = @_;
    my $b64 = encode_base64($file);
    (my $b64_1 = $b64) =~ s/\n//g;
    my $inner = "--in\r\n\r\n$file\r\n--in--\r\n";
    return (
        [ 'a base64 part',
          part("Content-Transfer-Encoding: base64\r\n", $b64),
          'Content-Type' => $ct ],
        [ 'a quoted-printable part',
          part("Content-Transfer-Encoding: quoted-printable\r\n",
               do { (my $q = encode_qp($file, "\r\n", 1)) =~ s/\r?\n\z//; $q }),
          'Content-Type' => $ct ],
        [ 'multipart in a part',
          part("Content-Type: multipart/mixed; boundary=in\r\n", $inner),
          'Content-Type' => $ct ],
        [ 'a gzip body', gz($file),
          'Content-Type' => 'application/octet-stream',
          'Content-Encoding' => 'gzip' ],
        [ 'a deflate body', zl($file), 'Content-Encoding' => 'deflate' ],
        [ 'a raw deflate body', rd($file), 'Content-Encoding' => 'deflate' ],
        [ 'a gzip multipart body', gz("--$B\r\n\r\n$file\r\n--$B--\r\n"),
          'Content-Type' => $ct, 'Content-Encoding' => 'gzip' ],
        [ 'an urlencoded form value', "title=x&file=" . pct($file) . "&y=z",
          'Content-Type' => 'application/x-www-form-urlencoded' ],
        [ 'a base64 string in JSON',
          qq({"name": "f.bin", "data": "$b64_1"}),
          'Content-Type' => 'application/json' ],
        [ 'a data: URI in JSON',
          qq({"img": "data:application/octet-stream;base64,$b64_1"}),
          'Content-Type' => 'application/json; charset=utf-8' ],
    );
}

for my $c (cases($listed)) {
    my ($what, $body, @h) = @$c;
    my $resp = post($body, @h);
    is(UFTest::status($resp), 403, "$what holding a listed file: 403");
    is($t->connections, 0, "$what: nothing reached the upstream");
    $t->clear_records;
}

like($t->error_log, qr/match action=block digest=sha256:\S+ source="decode-test" category="" part=1 name="f" filename="f\.bin" size=30000 decoded=base64,/,
     'the log says what was decoded');
like($t->error_log, qr/part=1\.1 name="" filename="" size=30000,/,
     'a nested part is named by its path');
like($t->error_log, qr/part=body size=30000 decoded=gzip,/,
     'a decoded body');
like($t->error_log, qr/part=form\.2 name="file" filename="" size=30000,/,
     'a form value is named by its key');
like($t->error_log, qr/part=json\.4 name="" filename="" size=30000 decoded=base64,/,
     'a JSON string by its place');

for my $c (cases($clean)) {
    my ($what, $body, @h) = @$c;
    my $resp = post($body, @h);
    is(UFTest::status($resp), 200, "$what holding a clean file: 200");
    my @r = $t->records;
    ok(@r == 1 && $r[0]{body} eq $body, "$what: forwarded byte for byte");
    $t->clear_records;
}

# a resized copy of a listed photo, base64 in JSON: PDQ finds it
{
    (my $b64 = encode_base64($photo)) =~ s/\n//g;
    my $resp = post(qq({"photo": "$b64"}), 'Content-Type' => 'application/json');
    is(UFTest::status($resp), 403, 'a listed photo, base64 in JSON: 403 by PDQ');
    like($t->error_log, qr/match action=block digest=pdq:\S+ entry=pdq:$pdq .* part=json\.2 .* decoded=base64 format=jpeg,/,
         'the PDQ match names the JSON string');
    $t->clear_records;
}

# decompression bombs
{
    my $bomb = gz("\0" x (8 << 20));
    my $resp = post($bomb, 'uri', '/small/up', 'Content-Encoding' => 'gzip');
    is(UFTest::status($resp), 413, 'more than upload_filter_max_decompressed_size: 413');
    like($t->error_log, qr/compressed body decodes to more than allowed \(too_large\), rejected/,
         'logged as too_large');
    $resp = post($bomb, 'Content-Encoding' => 'gzip');
    is(UFTest::status($resp), 413, 'over upload_filter_max_compression_ratio: 413');
    is($t->connections, 0, 'bombs are not forwarded');
    $t->clear_records;
}

$t->finish;
done_testing;
