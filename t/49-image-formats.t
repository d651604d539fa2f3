#!/usr/bin/perl
# Every image format, end to end: a listed photo (a benign stand-in)
# re-saved as PNG, WebP, GIF, HEIC, AVIF, BMP or TIFF is blocked by PDQ in a raw
# PUT, a multipart part, a chunked body and over HTTP/2; an animated GIF
# (or APNG) whose third frame is the photo is blocked and the log names
# the frame;
# unrelated images pass byte for byte; hostile files (decompression
# bombs of each format, truncated and corrupt files, a bad CRC, a huge
# metadata chunk) are refused as unhashable with the decoder's reason.

use strict;
use warnings;
use lib 't/lib';
use Compress::Zlib qw(compress crc32);
use Test::More;
use UFTest qw(multipart);

my $t = UFTest->new;
$t->{timeout} = 30;
my $dir = $t->dir;
my $data = "$UFTest::ROOT/t/data/formats";

sub slurp { $t->read_file("$data/$_[0]") // die "$data/$_[0]" }

# the listed stand-in: the reference hash of square-256x256.jpg
my ($listed) = map { (split /,/)[2] }
               grep { m{^images/bridge-mods/square-256x256\.jpg,} }
               split /\n/, slurp('expected.csv');
like($listed, qr/^[0-9a-f]{64}$/, 'the listed hash, from the vectors table');

$t->hashdb('init', $t->db);
$t->hashdb('import', $t->db, '--source', 'formats-test', '--category', 'A1',
           '--unsigned', '--format', 'pdq', '-', \"$listed,100,square\n");

my %copy = (
    'png'           => slurp('images/bridge-mods/square-256x256.png'),
    'webp q80'      => slurp('images/bridge-mods/square-256x256.q80.webp'),
    'webp lossless' => slurp('images/derived/square.lossless.webp'),
    'gif 256'       => slurp('uploads/square.256.gif'),
    'heic'          => slurp('uploads/square.heic'),
    'avif'          => slurp('uploads/square.avif'),
    'bmp'           => slurp('images/derived/square.bmp'),
    'tiff'          => slurp('images/derived/square.lzw.tiff'),
    'png rgba'      => slurp('images/derived/square.rgba.png'),
    'png 16-bit'    => slurp('images/derived/square.rgb16.png'),
    'png interlaced'=> slurp('images/derived/square.interlaced.png'),
);
my %clean = (
    'png'       => slurp('uploads/clean.png'),
    'webp'      => slurp('uploads/clean.q80.webp'),
    'gif anim'  => slurp('uploads/clean-anim.gif'),
);
my $third = slurp('uploads/third-frame.gif');
my $third_apng = slurp('uploads/third-frame.apng.png');

# --- hostile files ----------------------------------------------------------

sub png_chunk { my ($type, $body) = @_;
                pack('N', length $body) . $type . $body . pack('N', crc32($type . $body)) }
sub png { "\x89PNG\r\n\x1a\n" . join('', map { png_chunk(@$_) } @_) . png_chunk('IEND', '') }

my %hostile = (
    # 1 x 1 000 000 000 pixels in a 1 KiB file: refused by its IHDR
    'png bomb' => [png(['IHDR', pack('NNCCCCC', 1, 1_000_000_000, 8, 0, 0, 0, 0)],
                       ['IDAT', compress("\0\0" x 64)])],
    # a PNG whose IDAT CRC is wrong
    'png bad crc' => [do { my $p = $copy{png}; my $i = index($p, 'IDAT');
                           my $crc = $i + 4 + unpack('N', substr($p, $i - 4, 4));
                           substr($p, $crc, 1) = chr(ord(substr $p, $crc, 1) ^ 1); $p }],
    # a zTXt chunk of 640 KiB that inflates to 512 MiB
    'png metadata bomb' => [do { my $p = $copy{png};
                                 substr($p, 33, 0) = png_chunk('zTXt', "Comment\0\0"
                                                               . compress("\0" x (512 << 20), 9));
                                 $p }],
    # 100 000 frames of a 64 x 64 screen: 409 M pixels to composite
    'gif 100000 frames' => ["GIF89a" . pack('vvCCC', 64, 64, 0x80, 0, 0) . "\0\0\0\xff\xff\xff"
                            . ("\x2c" . pack('vvvvC', 0, 0, 1, 1, 0) . "\x02\x02\x44\x01\x00") x 100_000
                            . "\x3b"],
    # a WebP canvas of 16383 x 16383
    'webp canvas' => [do { my $vp8x = pack('C', 0x02) . "\0\0\0" . substr(pack('V', 16382), 0, 3)
                                      . substr(pack('V', 16382), 0, 3);
                           my $c = 'VP8X' . pack('V', 10) . $vp8x . 'ANIM' . pack('V', 6) . ("\0" x 6);
                           'RIFF' . pack('V', 4 + length $c) . 'WEBP' . $c }],
    # an HEIF whose item list declares 5000 items (a grid of 4999 tiles)
    'heif 5000 tiles' => [do { my $ftyp = pack('N', 24) . 'ftypheic' . pack('N', 0) . 'mif1heic';
                               my $iinf = pack('N', 14) . 'iinf' . pack('N', 0) . pack('n', 5000);
                               my $meta = pack('N', 12 + length $iinf) . 'meta' . pack('N', 0) . $iinf;
                               $ftyp . $meta }],
);
for my $f ('png', 'webp q80', 'gif 256', 'heic', 'avif', 'bmp', 'tiff') {
    $hostile{"$f truncated"} = [substr($copy{$f}, 0, int(length($copy{$f}) / 2))];
}
# a GIF whose LZW data is noise, a BMP whose header lies about its size
$hostile{'gif corrupt'} = [substr($copy{'gif 256'}, 0, 800)
                           . join('', map { chr(($_ * 7919) % 251) } 1 .. 5000)];
$hostile{'bmp short'} = [do { my $b = $copy{bmp}; substr($b, 18, 4) = pack('V', 60000); $b }];
# an APNG whose second frame lies outside the canvas (its CRC made right)
$hostile{'apng frame outside'} = [do {
    my $p = $third_apng;
    my $i = index($p, 'fcTL', index($p, 'fcTL') + 1);
    substr($p, $i + 4 + 12, 4) = pack('N', 250);        # x_offset
    substr($p, $i + 30, 4) = pack('N', crc32(substr($p, $i, 30)));
    $p }];

$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    http2 => 1,
    server => 'client_max_body_size 50m;',
    proxied => ['/one-frame/' => 'upload_filter_pdq_max_frames 1;',
                '/few-pixels/' => 'upload_filter_pdq_max_total_pixels 50000;']));

sub expect { $t->expect(@_) }

sub put { $t->request('PUT', $_[0], $_[1], 'Content-Type' => 'application/octet-stream') }

my $b = 'fmt0123';
my $ct = "multipart/form-data; boundary=$b";

for my $f (sort keys %copy) {
    (my $name = $f) =~ s/\W/-/g;
    expect(put("/up/$name", $copy{$f}), 403, undef, "the listed photo as $f, raw PUT");
    my $format = (split / /, $f)[0] =~ s/heic/heif/r;
    like($t->error_log, qr/match action=block digest=pdq:\w+ entry=pdq:$listed .* part=body .* format=$format,/,
         "$f: the log line names the format");

    my $form = multipart($b, ['title', undef, 'holiday'], ['photo', "p.$name", $copy{$f}]);
    expect($t->request('POST', '/up/form', $form, 'Content-Type' => $ct), 403, undef,
           "$f in a multipart part");

    my $chunked = UFTest::chunked($copy{$f}, 5000);
    expect($t->raw("PUT /up/$name HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   . "Transfer-Encoding: chunked\r\n\r\n$chunked"),
           403, undef, "$f, chunked");
}

SKIP: {
    skip 'curl without HTTP/2', 2 * keys %copy unless `curl -V` =~ /HTTP2/;
    for my $f (sort keys %copy) {
        (my $name = $f) =~ s/\W/-/g;
        my $file = $t->write_file("h2-$name", $copy{$f});
        my $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T $file http://127.0.0.1:$t->{port2}/up/$name`;
        is($code, 403, "$f over HTTP/2: 403");
        is($t->connections, 0, "$f over HTTP/2: upstream never connected");
        $t->clear_records;
    }
}

for my $f (sort keys %clean) {
    expect(put("/up/clean", $clean{$f}), 200, $clean{$f}, "an unrelated $f");
}
my $form = multipart($b, map { ["f$_", "c$_", $clean{(sort keys %clean)[$_]}] } 0 .. 2);
expect($t->request('POST', '/up/form', $form, 'Content-Type' => $ct), 200, $form,
       'unrelated images of three formats in one form');

# a 9 MiB text chunk is skipped, not kept: the image is still hashed
{
    my $p = $copy{png};
    substr($p, 33, 0) = png_chunk('tEXt', "Comment\0" . ('x' x (9 << 20)));
    expect(put('/up/texted.png', $p), 403, undef,
           'the listed photo behind a 9 MiB text chunk');
}

# --- animations -------------------------------------------------------------

expect(put('/up/anim.gif', $third), 403, undef, 'an animated GIF whose third frame is listed');
like($t->error_log, qr/entry=pdq:$listed .* format=gif frame=2,/,
     'the log line says which frame matched');
expect(put('/one-frame/anim.gif', $third), 200, $third,
       'upload_filter_pdq_max_frames 1: only the first frame is hashed');
expect(put('/up/anim.png', $third_apng), 403, undef,
       'an APNG whose third frame is listed');
like($t->error_log, qr/entry=pdq:$listed .* format=png frame=2,/,
     'the log line says which frame of the APNG matched');

# --- hostile files ------------------------------------------------------------

my %why = ('png bomb' => qr/1x1000000000 pixels, more than/,
           'png bad crc' => qr/PNG: invalid chunk checksum/,
           'png metadata bomb' => qr/PNG: reached chunk\/cache limits/,
           'gif 100000 frames' => qr/more than \d+ pixels to decode in all/,
           'webp canvas' => qr/16383x16383 pixels, more than/,
           'heif 5000 tiles' => qr/5000 items \(tiles\), more than/,
           'apng frame outside' => qr/APNG: frame 1 outside the canvas/);
for my $h (sort keys %hostile) {
    my $body = $hostile{$h}[0];
    expect(put('/up/hostile', $body), 422, undef, "$h: refused as unhashable");
    like($t->error_log, $why{$h} // qr/no PDQ hash for part=body .* format=\w+: \S/,
         "$h: the decoder's reason is logged");
}
$t->like_access(qr{PUT /up/hostile 422 result=error .*reason="(PNG|GIF|WebP|HEIF|AVIF|BMP|TIFF) cannot be hashed"},
                '$upload_filter_reason names the format');

expect(put('/few-pixels/big.png', $copy{png}), 422, undef,
       'upload_filter_pdq_max_total_pixels 50000: a 256 x 256 image is over it');
like($t->error_log, qr/more than 50000 pixels to decode in all/, 'and says so');

# the worker still serves
expect(put('/up/clean', $clean{png}), 200, $clean{png}, 'still serving');

$t->finish;
done_testing;
