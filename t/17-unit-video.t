#!/usr/bin/perl
# vPDQ in the tool: every sample video hashed as the reference hashes it
# (the copies in t/data/video and, where ../shared is beside the project,
# all nine), bit for bit at one frame a second; the fast sampling within a
# few bits on the same frames; every frame of a video matched against the
# reference's 2022 hashes (made on another CPU) by the matching rule; and
# the vPDQ lists: one video, many in a csv, a directory, sync and delta,
# refused lines.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest;

my $t = UFTest->new;
my $data = "$UFTest::ROOT/t/data/video";
my $shared = "$UFTest::ROOT/../shared/vpdq-vectors";

sub lines { [grep { length } split /\n/, $_[0]] }
sub hamming { my $x = pack('H*', $_[0]) ^ pack('H*', $_[1]); unpack('%32b*', $x) }

my ($rc, $out, $err) = $t->hashdb('hash', '--formats');
like($out, qr/^mp4 +FFmpeg libavformat \d+\.\d+, libavcodec \d+\.\d+$/m, 'hash --formats lists video');

my @videos = map { s{.*/}{}r =~ s{\.mp4$}{}r } glob("$data/*.mp4");
my $dir = $data;
if (-d "$shared/videos") {
    @videos = map { s{.*/}{}r =~ s{\.mp4$}{}r } glob("$shared/videos/*.mp4");
    $dir = "$shared/videos";
} else {
    diag('no ../shared/vpdq-vectors beside the project: the three copied videos only');
}
ok(@videos >= 3, scalar(@videos) . ' sample videos');

for my $v (@videos) {
    my $ref = $t->read_file("$data/hashes-1fps/$v.txt");
    ($rc, $out, $err) = $t->hashdb('hash', '--format', 'vpdq', "$dir/$v.mp4");
    is($rc, 0, "$v: hashed");
    is_deeply(lines($out), lines($ref), "$v: the reference's vPDQ lines, bit for bit");

    ($rc, $out) = $t->hashdb('hash', '--format', 'vpdq', '--sampling', 'fast', "$dir/$v.mp4");
    my @fast = map { [split /,/] } @{ lines($out) };
    my @exact = map { [split /,/] } @{ lines($ref) };
    is_deeply([map { $_->[0] } @fast], [map { $_->[0] } @exact], "$v: fast sampling keeps the same frames");
    my $far = grep { hamming($fast[$_][2], $exact[$_][2]) > 16 } 0 .. $#exact;
    is($far, 0, "$v: each within 16 bits of the reference's");
}

# the lines hashdb hash prints for a video
($rc, $out) = $t->hashdb('hash', "$data/doorknob-hd-no-bar.mp4");
like($out, qr/^sha1:[0-9a-f]{40}  \S+doorknob-hd-no-bar\.mp4$/m, 'a video gets its digests');
my @frames = $out =~ /^pdq:[0-9a-f]{64}  \S+  quality=\d+ frame=(\d+) time=(\d+\.\d{3})$/mg;
is_deeply(\@frames, [0, '0.000', 30, '1.000', 60, '2.000', 90, '3.000'],
          'and one line per second with its frame and time');

# --- lists ------------------------------------------------------------------

my $db = $t->db;
$t->hashdb('init', $db);

($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'every', '--unsigned', '--format', 'vpdq',
                               "$data/doorknob-hd-no-bar.every-frame.txt");
is($rc, 0, 'every frame of a video imports') or diag($err);
($rc, $out) = $t->hashdb('hash', '--db', $db, '--interval', '0', "$data/doorknob-hd-no-bar.mp4");
like($out, qr/^vpdq: listed video "doorknob-hd-no-bar\.every-frame"  \S+  source=every category=- listed_frames=(\d+)\/\1 \(100%\) frames=(\d+)\/\2 \(100%\) time=0\.000 pdq:[0-9a-f]{64} distance=\d+$/m,
     'every frame matches the 2022 hashes by the rule, though a few bits apart');

($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'dir', '--unsigned', '--format', 'vpdq',
                               '--category', 'D1', "$data/hashes-1fps");
is($rc, 0, 'a directory of vPDQ files imports') or diag($err);
like($out, qr/9 rows, 9 entries added/, 'nine videos');
like($out, qr/PDQ hashes of quality below 50 skipped/, 'flat frames are not listed');

($rc, $out) = $t->hashdb('stats', '--json', $db);
my ($videos) = $out =~ /"name": "dir".*?"videos": (\d+)/s;
is($videos, 9, 'stats count the videos');

($rc, $out) = $t->hashdb('hash', '--db', $db, "$data/chair-orig-22-sd-bar.mp4");
like($out, qr/^vpdq: listed video "chair-orig-22-sd-bar"  \S+  source=dir category=D1 listed_frames=23\/23 \(100%\) frames=23\/23 \(100%\) time=0\.000 pdq:\w+ distance=0$/m,
     'hash --db names the listed video and its shares');

# a still of a listed video matches it, unless its source says no-stills
my $still = "$t->{dir}/still.png";
SKIP: {
    skip 'no ffmpeg', 3 unless `ffmpeg -version 2>/dev/null` =~ /ffmpeg/;
    system('ffmpeg', '-v', 'error', '-y', '-ss', '10', '-i', "$data/chair-orig-22-sd-bar.mp4",
           '-frames:v', '1', $still) == 0 or die 'ffmpeg';
    ($rc, $out) = $t->hashdb('hash', '--db', $db, $still);
    like($out, qr/^pdq: listed pdq:\w+  \S+  source=dir category=D1 distance=\d+ variant=as-is video=chair-orig-22-sd-bar$/m,
         'a still taken from a listed video matches its frame');
    $t->hashdb('no-stills', $db, '--source', 'dir');
    ($rc, $out) = $t->hashdb('hash', '--db', $db, $still);
    like($out, qr/^pdq: no listed hash within 31/m, 'not once its source is no-stills');
    $t->hashdb('stills', $db, '--source', 'dir');
    ($rc, $out) = $t->hashdb('hash', '--db', $db, $still);
    like($out, qr/video=chair-orig-22-sd-bar$/m, 'and again with stills');
}

# many videos in one csv; each video's lines together, or refused
my $csv = "video,frame,quality,hash,timestamp\n"
        . join('', map { "chair,$_\n" } @{ lines($t->read_file("$data/hashes-1fps/chair-orig-22-sd-bar.txt")) })
        . join('', map { "door,$_\n" } @{ lines($t->read_file("$data/hashes-1fps/doorknob-hd-no-bar.txt")) });
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'csv', '--unsigned', '--format', 'vpdq', '-', \$csv);
is($rc, 0, 'a many-video csv syncs') or diag($err);
like($out, qr/2 rows, 2 entries added/, 'two videos');

($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'csv', '--unsigned', '--format', 'vpdq', '-',
                               \($csv =~ s/^door,.*\n//mgr));
like($out, qr/1 rows, 0 entries added, 1 removed, 1 already listed/, 'a sync without a video removes it');
($rc, $out) = $t->hashdb('hash', '--db', $db, "$data/doorknob-hd-no-bar.mp4");
unlike($out, qr/listed video "door"/, 'and it no longer matches');

my $delta = "video,op,hash\nchair,remove,\n";
($rc, $out, $err) = $t->hashdb('apply', $db, '--source', 'csv', '--unsigned', '--format', 'vpdq', '-', \$delta);
is($rc, 0, 'a delta removes a video by its id') or diag($err);
like($out, qr/1 removed/, 'one removed');

my $split = "video,hash\na," . ('1' x 64) . "\nb," . ('2' x 64) . "\na," . ('3' x 64) . "\n";
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'bad', '--unsigned', '--format', 'vpdq', '-', \$split);
isnt($rc, 0, 'a video whose lines are apart is refused');
like($err, qr/the lines of video "a" are not together; nothing applied/, 'and says why');

($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'bad', '--unsigned', '--format', 'vpdq',
                               '--video-id', 'x', '-', \"0,100,abc,0.000\n");
isnt($rc, 0, 'a bad hash is refused');
like($err, qr/:1: not a PDQ hash \(64 hex digits\); nothing applied/, 'with its line');

($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'bad', '--unsigned', '--format', 'vpdq', '-',
                               \"0,100,${\ ('a' x 64)},0.000\n");
like($err, qr/a one-video vpdq list needs a name/, 'a one-video list on stdin needs --video-id');

($rc, $out) = $t->hashdb('stats', '--json', $db);
unlike($out, qr/"name": "bad"/, 'refused lists left nothing');

$t->finish;
done_testing;
