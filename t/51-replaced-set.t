#!/usr/bin/perl
# A hash set deleted and made anew under a running nginx (not updated in
# place: a new directory, a new data.mdb) is noticed within seconds and
# reopened, with a notice; while it is gone, the set opened before is
# still used, with a warning.  A video that a pool thread hashes and looks
# up while the set is replaced is judged against the set it came under,
# which is let go (its deleted file unmapped) once that upload is judged.

use strict;
use warnings;
use lib 't/lib';
use File::Path qw(remove_tree);
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $old = "listed in the old set\n" x 10;
my $new = "listed in the new set\n" x 10;
$t->listed(source => 'old', lines => [sha256_hex($old)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    server => 'client_max_body_size 50m;',
    proxied => ['/exact/' => 'upload_filter_video_sampling exact;']));

sub put { UFTest::status($t->request('PUT', '/up', $_[0])) }

# within $s seconds, the status of $body becomes $want
sub becomes {
    my ($body, $want, $s) = @_;
    my $got;
    for (1 .. $s * 10) {
        $got = put($body);
        return $got if $got == $want;
        sleep 0.1;
    }
    return $got;
}

is(put($old), 403, 'the old set blocks its file');
is(put($new), 200, 'not the new one');

remove_tree($t->db);
is(becomes($old, 200, 1.5), 403, 'the set deleted: the one opened before is still used');
ok($t->wait_log(qr/upload_filter: hash set "\S+" is gone; the one opened before is still used/),
   'and a warning says so');

$t->listed(source => 'new', lines => [sha256_hex($new)]);
is(becomes($new, 403, 5), 403, 'a new set in its place is used within seconds, no reload');
is(put($old), 200, 'the old one is let go');
like($t->error_log, qr/\[notice\].*upload_filter: hash set "\S+" replaced: opened/,
     'a notice says the set was replaced');

# updates in place are not replacements: no reopen, no notice
my $notices = () = $t->error_log =~ /replaced: opened/g;
$t->listed(source => 'new', lines => [sha256_hex($old)]);
is(put($old), 403, 'an import into the set: seen at once');
sleep 1.5;
my $after = () = $t->error_log =~ /replaced: opened/g;
is($after, $notices, 'and no reopen for it');

# the worker's mappings of a deleted data.mdb: a set it still holds
sub deleted_maps {
    my $n = 0;
    for my $pid ($t->worker_pids) {
        $n += () = ($t->read_file("/proc/$pid/maps") // '') =~ /data\.mdb \(deleted\)/g;
    }
    return $n;
}

sub replacements { scalar(() = $t->error_log =~ /replaced: opened/g) }

SKIP: {
    skip 'no ffmpeg to make the video', 6 unless `ffmpeg -version 2>/dev/null` =~ /ffmpeg/;

    # 40 s of a listed image at 1080p, 60 frames a second: seconds of
    # decoding in the thread (a 2 s clip encoded once, then copied)
    my $dir = $t->dir;
    my $img = "$UFTest::ROOT/t/data/formats/images/bridge-mods/square-256x256.jpg";
    system('ffmpeg', '-v', 'error', '-y', '-loop', '1', '-i', $img, '-t', '2', '-r', '60',
           '-vf', 'scale=1920:1080', '-c:v', 'libx264', '-preset', 'ultrafast',
           '-pix_fmt', 'yuv420p', "$dir/clip.mp4") == 0 or die 'ffmpeg clip';
    $t->write_file('clips.txt', join '', map { "file '$dir/clip.mp4'\n" } 1 .. 20);
    system('ffmpeg', '-v', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', "$dir/clips.txt",
           '-c', 'copy', "$dir/long.mp4") == 0 or die 'ffmpeg concat';
    my $video = $t->read_file('long.mp4');
    my $pdq = $t->pdq_hash($img);

    $t->listed(source => 'images', format => 'pdq', lines => ["$pdq,100,square"]);
    is(deleted_maps(), 0, 'no deleted set mapped before');

    my $before = replacements();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->{port}) or die;
    binmode $s;
    print $s "PUT /exact/long.mp4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             . 'Content-Length: ' . length($video) . "\r\n\r\n" . $video;
    sleep 0.3;

    # the set replaced by one that does not list the image, while the
    # thread decodes the video
    remove_tree($t->db);
    $t->listed(source => 'other', lines => [sha256_hex('something else')]);
    my $seen = 0;
    for (1 .. 50) {
        last if ($seen = replacements() > $before);
        sleep 0.1;
    }
    my $sel = IO::Select->new($s);
    ok($seen && !$sel->can_read(0), 'the set is replaced while the video is being hashed');
    is(deleted_maps(), 1, 'meanwhile the worker still maps the replaced set, for that upload');

    my $resp = '';
    while ($sel->can_read(30)) {
        last unless sysread $s, $resp, 65536, length $resp;
    }
    close $s;
    like($resp, qr{^HTTP/1\.1 403}, 'the video is judged against the set it came under: 403');
    like($t->error_log, qr/match action=block .*source="images".*format=mp4/,
         'the frame that shows the listed image is logged');
    is(deleted_maps(), 0, 'then the replaced set is closed: its deleted file unmapped');
    is(UFTest::status($t->request('PUT', '/exact/again.mp4', $video)), 200,
       'the same video now passes: the new set does not list the image');
}

$t->finish;
done_testing;
