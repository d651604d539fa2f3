#!/usr/bin/perl
# PDQ end to end: a resized, re-encoded, rotated or mirrored copy of a
# listed benign image is blocked (raw PUT, multipart, chunked, HTTP/2,
# WebDAV), an unrelated image passes byte for byte, the distance and
# quality limits hold, and images that cannot be hashed (corrupt, a
# decompression bomb) or that miss the budget get the failure policy.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(multipart);

my $t = UFTest->new;
$t->{timeout} = 30;
my $dir = $t->dir;
my $img = "$UFTest::ROOT/t/data/pdq-vectors/images";

sub transform { $t->jpeg_transform(@_) }

# the listed image, as a publisher would hash it: the reference path
my $orig = "$img/bridge-mods--aaa-orig.jpg";
my $listed = $t->pdq_hash('--exact', $orig);

# a flat image: quality 0, listed only past the quality gate
my $flat = transform("$img/misc-images--small.jpg", 'flat.jpg', 'reencode', 90);
my $flat_pdq = $t->pdq_hash("$dir/flat.jpg");

$t->hashdb('init', $t->db);
my ($rc, $out) = $t->hashdb('import', $t->db, '--source', 'pdq-test',
                         '--category', 'A1', '--unsigned', '--format', 'pdq',
                         '-', \"$listed,100,bridge\n$flat_pdq,0,flat\n");
like($out, qr/1 PDQ hashes of quality below 50 skipped/,
     'the import skips the flat image\'s low-quality hash');
$t->hashdb('import', $t->db, '--source', 'flat-test', '--unsigned',
           '--pdq-min-quality', '0', '--format', 'pdq', '-',
           \"$flat_pdq,0,flat\n");

my $resized = transform($orig, 'resized.jpg', 'resize', 50, 70);
my $rotated = transform($orig, 'rotated.jpg', 'rotate', 90);
my $mirrored = transform($orig, 'mirrored.jpg', 'mirror');
my $captioned = transform($orig, 'captioned.jpg', 'overlay', 30);
my $other = transform("$img/labelme-subset--q2821.jpg", 'other.jpg',
                      'reencode', 85);
my $big = transform($orig, 'big.jpg', 'scale-up', 3);     # 14 MP

# corrupt: a JPEG start, then noise
my $corrupt = "\xff\xd8\xff\xe0" . join '', map { chr(($_ * 7919) % 251) } 1 .. 5000;

# a bomb: a small JPEG whose frame header declares 60000 x 60000 pixels
my $bomb = $other;
$bomb =~ s/\xff\xc0(..).(..)(..)/"\xff\xc0$1\x08" . pack('n', 60000) . pack('n', 60000)/se
    or die 'no SOF0';

$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    http2 => 1,
    server => 'client_max_body_size 50m;',
    proxied => ['/near/' => 'upload_filter_pdq_distance 5;',
                '/lenient/' => 'upload_filter_on_error pass unhashable;',
                '/flat/' => 'upload_filter_pdq_min_quality 0;',
                '/hurry/' => 'upload_filter_budget 1ms;',
                '/small/' => 'upload_filter_pdq_max_pixels 1m;',
                '/inline/' => 'upload_filter_thread_pool off;'],
    locations => <<'EOF2'));

        location /dav/ {
            root %%DIR%%;
            dav_methods PUT;
        }
EOF2

sub expect { $t->expect(@_) }

sub put { $t->request('PUT', $_[0], $_[1], 'Content-Type' => $_[2] // 'image/jpeg') }

# --- near copies are blocked, an unrelated image passes ------------------

expect(put('/up/copy.jpg', $resized), 403, undef,
       'a 50% copy re-encoded at quality 70, raw PUT');
my $log = $t->error_log;
like($log, qr/upload_filter: match action=block digest=pdq:[0-9a-f]{64} entry=pdq:$listed distance=\d+ variant=as-is quality=\d+ source="pdq-test" category="A1" part=body name="" filename="" size=\d+/,
     'the log line names the upload\'s hash, the listed entry, the distance and the list');
$t->like_access(qr{PUT /up/copy.jpg 403 result=match match=pdq:[0-9a-f]{64} .*entry=pdq:$listed distance=\d+},
     '$upload_filter_entry and $upload_filter_distance in the access log');

expect(put('/up/rot.jpg', $rotated), 403, undef, 'a copy rotated by 90 degrees');
like($t->error_log, qr/entry=pdq:$listed distance=\d+ variant=rot(90|270)/,
     'the rotated copy matched through a rotated variant');
expect(put('/up/mirror.jpg', $mirrored), 403, undef, 'a mirrored copy');

expect(put('/up/other.jpg', $other), 200, $other, 'an unrelated image');

my $b = 'XyZzy0123';
my $ct = "multipart/form-data; boundary=$b";
my $form = multipart($b, ['title', undef, 'holiday'],
                     ['a', 'other.jpg', $other], ['b', 'x.png', $resized]);
expect(put('/up/form', $form, $ct), 403, undef,
       'multipart: the copy in the second file part (named .png)');
like($t->error_log, qr/entry=pdq:$listed .*part=3 name="b" filename="x\.png"/,
     'the log line names the part');

my $clean_form = multipart($b, ['a', 'o.jpg', $other], ['c', undef, 'text']);
expect(put('/up/form', $clean_form, $ct), 200, $clean_form,
       'multipart: unrelated images pass');

{
    my $chunked = UFTest::chunked($resized, 7000);
    my $resp = $t->raw("PUT /up/chunked.jpg HTTP/1.1\r\nHost: x\r\n"
                       . "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                       . $chunked);
    expect($resp, 403, undef, 'chunked');
}

SKIP: {
    skip 'curl without HTTP/2', 4 unless `curl -V` =~ /HTTP2/;
    my $url = "http://127.0.0.1:$t->{port2}/up/h2.jpg";
    my $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T $dir/resized.jpg $url`;
    is($code, 403, 'HTTP/2: the copy is blocked');
    is($t->connections, 0, 'HTTP/2: upstream never connected');
    $t->clear_records;
    $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T $dir/other.jpg $url`;
    is($code, 200, 'HTTP/2: an unrelated image passes');
    my @r = $t->records;
    ok(@r == 1 && $r[0]{body} eq $other, 'HTTP/2: upstream got the same bytes');
    $t->clear_records;
}

# WebDAV reads the body itself: the verdict comes inside the body filter
is(UFTest::status(put('/dav/copy.jpg', $resized)), 403, 'WebDAV PUT of the copy: 403');
ok(!-e "$dir/dav/copy.jpg", 'WebDAV: nothing stored');
is(UFTest::status(put('/dav/other.jpg', $other)), 201, 'WebDAV PUT of an unrelated image: 201');
is($t->read_file('dav/other.jpg'), $other, 'WebDAV: stored as sent');

# hashing in the event loop instead of the thread pool: the same verdicts
expect(put('/inline/copy.jpg', $resized), 403, undef,
       'upload_filter_thread_pool off: the copy is blocked');
expect(put('/inline/other.jpg', $other), 200, $other,
       'upload_filter_thread_pool off: an unrelated image passes');

# --- limits --------------------------------------------------------------

expect(put('/up/captioned.jpg', $captioned), 403, undef,
       'a copy with a caption bar over 30% of its width');
expect(put('/near/captioned.jpg', $captioned), 200, $captioned,
       'upload_filter_pdq_distance 5: it is too far to match there');
expect(put('/up/flat.jpg', $flat), 200, $flat,
       'a listed flat image (quality 0) is not matched');
expect(put('/flat/flat.jpg', $flat), 403, undef,
       'upload_filter_pdq_min_quality 0: it is');

# --- images that cannot be hashed -----------------------------------------

expect(put('/up/bad.jpg', $corrupt), 422, undef, 'a corrupt JPEG: 422 by default');
like($t->error_log, qr/no PDQ hash for part=body .*: .+\n.*cannot inspect upload: JPEG cannot be hashed \(unhashable\), rejected/,
     'logged with the decoder\'s reason and the policy');
expect(put('/lenient/bad.jpg', $corrupt), 200, $corrupt,
       'upload_filter_on_error pass unhashable: passed');
$t->like_access(qr{PUT /lenient/bad.jpg 200 result=error .*reason="JPEG cannot be hashed"},
     '$upload_filter_reason says why');
expect(put('/up/bomb.jpg', $bomb), 422, undef,
       'a JPEG declaring 60000 x 60000 pixels is not decoded');
like($t->error_log, qr/no PDQ hash for part=body .*: more pixels than allowed/,
     'the bomb is refused by its declared size');
expect(put('/small/big.jpg', $big), 422, undef,
       'upload_filter_pdq_max_pixels 1m: a 14 MP image is not decoded');

# --- the budget -------------------------------------------------------------

expect(put('/hurry/big.jpg', $big), 503, undef,
       'upload_filter_budget 1ms: a 14 MP JPEG misses it');
like($t->error_log, qr/no PDQ verdict \d+ ms after the body \(upload_filter_budget 1 ms\)/,
     'logged with the time it took');
expect(put('/up/big.jpg', $big), 403, undef,
       'with the default budget the same image gets its verdict');

# the worker keeps serving after a detached hashing thread finished
sleep 0.5;
expect(put('/up/other.jpg', $other), 200, $other, 'still serving');

# --- address space refused: the lookups stay in the event loop ---------------

SKIP: {
    # ASan reserves terabytes of shadow memory: no address-space limit
    skip 'sanitizer build', 3 if $UFTest::ASAN;
    skip 'no prlimit', 3 unless `prlimit --version 2>/dev/null` =~ /prlimit/;
    $t->stop_nginx;
    $t->start_nginx(UFTest::proxy_server(server => 'client_max_body_size 50m;'),
                    wrap => ['prlimit', '--as=' . (16 << 30)]);
    ok($t->wait_log(qr/\[notice\].*upload_filter: hash set "\S+" mapped at its size, without room to grow \(the address space is limited\): its lookups stay in the event loop/),
       'a notice says the set has no room to grow and why');
    expect(put('/up/resized.jpg', $resized), 403, undef,
           'a near copy is still blocked, looked up in the event loop');
    expect(put('/up/other.jpg', $other), 200, $other, 'an unrelated image passes');
}

$t->finish;
done_testing;
