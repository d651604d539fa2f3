#!/usr/bin/perl
# Video, end to end.  A listed video (a benign sample, listed by the
# reference's own vPDQ hashes) is blocked when it is uploaded edited:
# re-encoded, scaled to half, with other key frames, as WebM, Matroska,
# AVI and MPEG-TS; in a raw PUT, a multipart part, a chunked body and over
# HTTP/2; with each sampling.  An unrelated video passes byte for byte; a
# video that shows a listed image is blocked (a frame is a still); a still
# taken from a listed video is blocked.  Hostile and over-limit videos
# (corrupt, truncated, too long, too large a frame, too many bytes, over
# the time budget) get the failure policy with the reason logged, and no
# worker crashes.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(multipart);

plan skip_all => 'no ffmpeg to make the edited copies' unless `ffmpeg -version 2>/dev/null` =~ /ffmpeg/;

my $t = UFTest->new;
$t->{timeout} = 60;
my $dir = $t->dir;
my $data = "$UFTest::ROOT/t/data/video";
my $chair = "$data/chair-orig-22-sd-bar.mp4";

sub slurp { $t->read_file($_[0]) // die $_[0] }

# ffmpeg makes each copy from the listed video (or from nothing)
sub ffmpeg {
    my ($name, @args) = @_;
    my $out = "$dir/$name";
    system('ffmpeg', '-v', 'error', '-y', @args, $out) == 0 or die "ffmpeg $name";
    return slurp($out);
}

my %edit = (
    'crf 32'      => ffmpeg('crf.mp4', '-i', $chair, '-c:v', 'libx264', '-preset', 'ultrafast',
                            '-crf', '32', '-an'),
    'half size'   => ffmpeg('half.mp4', '-i', $chair, '-vf', 'scale=240:360', '-c:v', 'libx264',
                            '-preset', 'ultrafast', '-an'),
    'gop 1 s'     => ffmpeg('gop.mp4', '-i', $chair, '-g', '30', '-c:v', 'libx264',
                            '-preset', 'ultrafast', '-an'),
    'webm'        => ffmpeg('vp8.webm', '-i', $chair, '-c:v', 'libvpx', '-deadline', 'realtime',
                            '-cpu-used', '8', '-b:v', '1M', '-an'),
    'mkv'         => ffmpeg('copy.mkv', '-i', $chair, '-c', 'copy'),
    'avi'         => ffmpeg('mpeg4.avi', '-i', $chair, '-c:v', 'mpeg4', '-q:v', '4', '-an'),
    'ts'          => ffmpeg('copy.ts', '-i', $chair, '-c', 'copy'),
);
my $unrelated = slurp("$data/doorknob-hd-no-bar.mp4");
my $synthetic = ffmpeg('testsrc.mp4', '-f', 'lavfi', '-i', 'testsrc=duration=4:size=320x240:rate=25',
                       '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
my $audio = ffmpeg('audio.mp4', '-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'aac');
# the middle 60 %, cut on the second (a cut between seconds shifts the
# one-a-second grid: see README, Video, for what that costs)
my $middle = ffmpeg('middle.mp4', '-ss', '4', '-t', '13', '-i', $chair, '-c:v', 'libx264',
                    '-preset', 'ultrafast', '-an');

# a listed image shown for 3 s, and a still taken from the listed video
my ($listed_img) = map { (split /,/)[2] }
                   grep { m{^images/bridge-mods/square-256x256\.jpg,} }
                   split /\n/, slurp("$UFTest::ROOT/t/data/formats/expected.csv");
my $shows_image = ffmpeg('image.mp4', '-loop', '1', '-i',
                         "$UFTest::ROOT/t/data/formats/images/bridge-mods/square-256x256.jpg",
                         '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
my $still = ffmpeg('still.png', '-ss', '10', '-i', $chair, '-frames:v', '1');

$t->hashdb('init', $t->db);
my ($rc, $out) = $t->hashdb('import', $t->db, '--source', 'video-test', '--category', 'V1',
                            '--unsigned', '--format', 'vpdq',
                            "$data/hashes-1fps/chair-orig-22-sd-bar.txt");
is($rc, 0, 'a one-video vPDQ list imports') or diag($out);
like($out, qr/1 rows, 1 entries added/, 'one video');
$t->hashdb('import', $t->db, '--source', 'image-test', '--unsigned', '--format', 'pdq', '-',
           \"$listed_img,100,square\n");

$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    http2 => 1,
    server => 'client_max_body_size 50m;',
    proxied => ['/exact/'     => 'upload_filter_video_sampling exact;',
                '/keyframes/' => 'upload_filter_video_sampling keyframes;',
                '/lax/'       => 'upload_filter_vpdq_match 40 0;',
                '/short/'     => 'upload_filter_video_max_duration 10s;',
                '/small/'     => 'upload_filter_pdq_max_pixels 100000;',
                '/bytes/'     => 'upload_filter_video_max_size 1m;',
                '/hurry/'     => "upload_filter_video_sampling exact;\n"
                                 . 'upload_filter_video_budget 5ms;']));

sub expect { $t->expect(@_) }
sub put { $t->request('PUT', $_[0], $_[1], 'Content-Type' => 'application/octet-stream') }

my $b = 'vid0123';
my $ct = "multipart/form-data; boundary=$b";

expect(put('/up/orig.mp4', slurp($chair)), 403, undef, 'the listed video itself');
like($t->error_log, qr/match action=block digest=pdq:\w+ entry=pdq:\w+ distance=\d+ variant=as-is quality=\d+ source="video-test" category="V1" video="chair-orig-22-sd-bar" listed_frames=23\/23 \(100%\) frames=\d+\/\d+ \(\d+%\) part=body .* format=mp4 time=\d+\.\d{3},/,
     'the log line names the listed video, the frames matched and when');
$t->like_access(qr{PUT /up/orig\.mp4 403 result=match .* video="chair-orig-22-sd-bar"},
                '$upload_filter_video names it');

for my $e (sort keys %edit) {
    (my $name = $e) =~ s/\W/-/g;
    expect(put("/up/$name", $edit{$e}), 403, undef, "the listed video, $e, raw PUT");
    my $form = multipart($b, ['title', undef, 'holiday'], ['clip', "c.$name", $edit{$e}]);
    expect($t->request('POST', '/up/form', $form, 'Content-Type' => $ct), 403, undef,
           "$e in a multipart part");
}
my $format = { 'webm' => 'mkv', 'mkv' => 'mkv', 'avi' => 'avi', 'ts' => 'ts' };
for my $e (sort keys %$format) {
    like($t->error_log, qr/video="chair-orig-22-sd-bar" .* format=$format->{$e} time=/,
         "$e: the log line names the container");
}

expect($t->raw("PUT /up/chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               . "Transfer-Encoding: chunked\r\n\r\n" . UFTest::chunked($edit{'crf 32'}, 65536)),
       403, undef, 're-encoded, chunked');

SKIP: {
    skip 'curl without HTTP/2', 2 unless `curl -V` =~ /HTTP2/;
    my $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -T $dir/half.mp4 http://127.0.0.1:$t->{port2}/up/h2`;
    is($code, 403, 'half size over HTTP/2: 403');
    is($t->connections, 0, 'over HTTP/2: upstream never connected');
    $t->clear_records;
}

expect(put('/exact/crf.mp4', $edit{'crf 32'}), 403, undef, 're-encoded, exact sampling');
# key frames every second (as phones and most encoders for the web make
# them): they fall on the listed frames' grid
expect(put('/keyframes/gop.mp4', $edit{'gop 1 s'}), 403, undef,
       'key frames every second, keyframes sampling');

# the middle 60 %: 13 of the 23 listed frames, under the default 80 %
expect(put('/up/middle.mp4', $middle), 200, $middle,
       'the middle 60 % passes the default rule (80 % of the listed frames)');
expect(put('/lax/middle.mp4', $middle), 403, undef,
       'and is blocked by upload_filter_vpdq_match 40 0');

expect(put('/up/other.mp4', $unrelated), 200, $unrelated, 'an unrelated video, byte for byte');
expect(put('/up/testsrc.mp4', $synthetic), 200, $synthetic, 'a synthetic video');
expect(put('/up/audio.mp4', $audio), 200, $audio, 'an MP4 of audio only: nothing to hash');
my $form = multipart($b, ['a', 'a.mp4', $unrelated], ['b', 'b.mp4', $synthetic]);
expect($t->request('POST', '/up/form', $form, 'Content-Type' => $ct), 200, $form,
       'two unrelated videos in one form');

expect(put('/up/image.mp4', $shows_image), 403, undef, 'a video showing a listed image');
like($t->error_log, qr/entry=pdq:$listed_img .* source="image-test" .* format=mp4 frame=\d+ time=\d+\.\d{3},/,
     'the log line says which frame, and when');
expect(put('/up/still.png', $still), 403, undef, 'a still taken from the listed video');
like($t->error_log, qr/source="video-test" category="V1" video="chair-orig-22-sd-bar" part=body .* format=png,/,
     'the still is reported as the listed video');

# --- a false positive: the listed video allowed by its name ------------------

($rc, $out) = $t->hashdb('allow', $t->db, 'video:video-test/chair-orig-22-sd-bar',
                         '--reason', 'our own footage');
is($rc, 0, 'hashdb allow video:SOURCE/NAME') or diag $out;
($rc, $out) = $t->hashdb('allowed', $t->db);
like($out, qr{^video:video-test/chair-orig-22-sd-bar\t\d{4}-\d\d-\d\dT[\d:]+Z\tour own footage$}m,
     'hashdb allowed lists it');
expect(put('/up/allowed.mp4', $edit{'crf 32'}), 200, $edit{'crf 32'},
       'the allowed video, re-encoded, passes byte for byte');
like($t->error_log, qr/match action=allow .* source="video-test" category="V1" video="chair-orig-22-sd-bar" listed_frames=23\/23 \(100%\) frames=\d+\/\d+ \(\d+%\) allowed="our own footage" part=body/,
     'logged as allowed, with the reason');
expect(put('/up/allowed.png', $still), 200, $still, 'and a still taken from it');
expect(put('/up/image2.mp4', $shows_image), 403, undef,
       'a video showing a listed image is still blocked');
# listed by a second source too: the allowed one does not hide it
$t->hashdb('import', $t->db, '--source', 'video-other', '--unsigned', '--format', 'vpdq',
           "$data/hashes-1fps/chair-orig-22-sd-bar.txt");
expect(put('/up/both.mp4', $edit{'crf 32'}), 403, undef,
       'the same video listed by another source is blocked');
like($t->error_log, qr/match action=block .* source="video-other" category="" video="chair-orig-22-sd-bar" .*both\.mp4/,
     'and the log names that source');
$t->hashdb('disable', $t->db, '--source', 'video-other');
my $err;
($rc, $out, $err) = $t->hashdb('allow', $t->db, 'video:video-test', '--reason', 'x');
ok($rc == 2 && $err =~ m{video:SOURCE/NAME wanted}, 'a video without a name is refused') or diag $err;
($rc, $out, $err) = $t->hashdb('allow', $t->db, "video:bad source/x", '--reason', 'x');
ok($rc == 2 && $err =~ m{not a source and video name}, 'a source name not valid is refused') or diag $err;
($rc, $out) = $t->hashdb('unallow', $t->db, 'video:video-test/chair-orig-22-sd-bar');
is($rc, 0, 'hashdb unallow video:SOURCE/NAME') or diag $out;
expect(put('/up/again.mp4', $edit{'crf 32'}), 403, undef, 'then it is blocked again');

# --- hostile and over-limit videos -------------------------------------------

my $orig = slurp($chair);
my %hostile = (
    'corrupt'    => [substr($orig, 0, 40) . join('', map { chr(($_ * 7919) % 251) } 1 .. 200000),
                     '/up/', 422, qr/format=mp4: video: /],
    'no frames'  => [pack('N', 24) . 'ftypisom' . pack('N', 0) . 'isomavc1'
                     . pack('N', 8) . 'free', '/up/', 422, qr/format=mp4: video: /],
    'too long'   => [$orig, '/short/', 422, qr/video of 22 s, longer than 10 s/],
    'frame size' => [$orig, '/small/', 422, qr/480x720 pixels, more than 100000/],
    'too large'  => [$orig, '/bytes/', 422, qr/video larger than upload_filter_video_max_size/],
    'budget'     => [$orig, '/hurry/', 503, qr/no PDQ verdict \d+ ms after the body \(upload_filter_video_budget 5 ms\)/],
);
for my $h (sort keys %hostile) {
    my ($body, $where, $status, $why) = @{ $hostile{$h} };
    expect(put("${where}hostile", $body), $status, undef, "$h: refused by policy");
    like($t->error_log, $why, "$h: the reason is logged");
}
$t->like_access(qr{PUT /up/hostile 422 result=error .*reason="MP4 video cannot be hashed"},
                '$upload_filter_reason names the container');

# truncated at half: the frames before the cut are hashed, as a player plays them
my $half = substr($orig, 0, int(length($orig) / 2));
expect(put('/up/cut.mp4', $half), 200, $half, 'cut at half: 11 of 23 listed frames, passes the default rule');
expect(put('/lax/cut.mp4', $half), 403, undef, 'and is blocked at 40 %');

# still serving, and no worker died
expect(put('/up/other.mp4', $unrelated), 200, $unrelated, 'still serving');

$t->finish;
done_testing;
