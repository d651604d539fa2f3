#!/usr/bin/perl
# hashdb scan: a tree of stored files against the hash set.  Files listed
# by each digest type and near copies of a listed photo in several image
# formats are reported, clean files are not; symbolic links are not
# followed unless --follow; a file with two hard links is read once and
# reported with both paths; special files are skipped without hanging;
# an unreadable file is an error with its reason; --json is valid JSON
# (a name that is not UTF-8 included); --files-from with NUL-separated
# names; every file is left as it was; exit 0 / 1 / 2.

use strict;
use warnings;
use lib 't/lib';
use File::Path qw(make_path);
use JSON::PP;
use POSIX qw(mkfifo);
use Test::More;
use UFTest qw(sha256_hex sha1_hex md5_hex);

my $t = UFTest->new;
my $dir = $t->dir;
my $data = "$UFTest::ROOT/t/data/formats";
my $tree = "$dir/tree";
make_path("$tree/docs", "$tree/photos/2019", "$tree/other");

sub put { my ($name, $content) = @_; $t->write_file("$tree/$name", $content) }

my %listed = (md5 => "stand-in one\n" x 10, sha1 => "stand-in two\n" x 10,
              sha256 => "stand-in three\n" x 10);
put('docs/one.txt', $listed{md5});
put('docs/two.bin', $listed{sha1});
put('other/three', $listed{sha256});
put('docs/clean.txt', "nothing listed here\n");
put('docs/empty', '');

# the listed photo's reference hash, and copies of it in other formats
my ($pdq) = map { (split /,/)[2] } grep { m{^images/bridge-mods/square-256x256\.jpg,} }
            split /\n/, $t->read_file("$data/expected.csv");
for (['square-256x256.png', 'images/bridge-mods/square-256x256.png'],
     ['copy.webp', 'images/bridge-mods/square-256x256.q80.webp'],
     ['copy.gif', 'uploads/square.256.gif'], ['IMG_0001.HEIC', 'uploads/square.heic'],
     ['anim.gif', 'uploads/third-frame.gif']) {
    put("photos/2019/$_->[0]", $t->read_file("$data/$_->[1]"));
}
put('photos/unrelated.png', $t->read_file("$data/uploads/clean.png"));

# a hard link, a symbolic link out of the tree, a FIFO, a socket-less dir
link("$tree/docs/one.txt", "$tree/other/one-again.txt") or die "link: $!";
$t->write_file("$dir/outside.txt", $listed{sha1} . "more\n");
$t->write_file("$dir/outside-listed.txt", "outside and listed\n");
symlink("$dir/outside-listed.txt", "$tree/docs/link.txt") or die "symlink: $!";
mkfifo("$tree/other/fifo", 0600) or die "mkfifo: $!";
# a name that is not UTF-8
put("other/caf\xe9.txt", $listed{sha256} . "latin-1 name\n");

$t->listed(source => 'md5-list', category => 'A1', lines => [md5_hex($listed{md5})]);
$t->listed(source => 'sha1-list', category => 'B2', lines => [sha1_hex($listed{sha1})]);
$t->listed(source => 'sha256-list', lines => [sha256_hex($listed{sha256}),
                                              sha256_hex("$listed{sha256}latin-1 name\n"),
                                              sha256_hex("outside and listed\n")]);
$t->listed(source => 'pdq-list', format => 'pdq', lines => ["$pdq,100,square"]);

my %mtime = map { $_ => (lstat $_)[9] } glob("$tree/*/* $tree/*/*/*");
my %content = map { $_ => $t->read_file($_) } grep { -f $_ && !-l $_ } keys %mtime;

# --- text -------------------------------------------------------------------

my ($rc, $out, $err) = $t->hashdb('scan', $t->db, $tree);
is($rc, 1, 'something listed: exit 1');
like($out, qr{^\Q$tree\E/docs/two\.bin: sha1:${\ sha1_hex($listed{sha1})} source=sha1-list category=B2 listed=\S+$}m,
     'listed by SHA-1: path, digest, source, category, date');
like($out, qr{^\Q$tree\E/other/three: sha256:\w+ source=sha256-list category=- }m, 'listed by SHA-256');
like($out, qr{^\Q$tree\E/(docs/one\.txt|other/one-again\.txt): md5:\w+ source=md5-list category=A1 .* also="\Q$tree\E/(docs/one\.txt|other/one-again\.txt)"$}m,
     'two hard links: one line, both paths');
is(() = $out =~ /md5-list/g, 1, 'the hard-linked file is reported once');
for my $f ('square-256x256.png', 'copy.webp', 'copy.gif', 'IMG_0001.HEIC') {
    like($out, qr{^\Q$tree\E/photos/2019/\Q$f\E: pdq:\w+ entry=pdq:$pdq distance=\d+ variant=as-is format=\w+ source=pdq-list }m,
         "the listed photo as $f: found by PDQ");
}
like($out, qr{^\Q$tree\E/photos/2019/anim\.gif: pdq:\w+ entry=pdq:$pdq .* format=gif frame=2 }m,
     'an animation: the frame that matched');
unlike($out, qr{clean\.txt|empty|unrelated\.png|link\.txt|outside}, 'clean files, and the symlink, not reported');
like($err, qr/hashdb scan: 12 files, \d+ bytes, 9 listed, 0 errors, 2 skipped, 0 from the cache, [\d.]+ s/,
     'the summary: files, bytes, listed, errors, skipped (the symlink and the FIFO), time');

is_deeply({ map { $_ => (lstat $_)[9] } keys %mtime }, \%mtime, 'no file\'s mtime changed');
is_deeply({ map { $_ => $t->read_file($_) } keys %content }, \%content, 'nor its content');

# --- one thread, --follow ------------------------------------------------------

my ($rc1, $out1) = $t->hashdb('scan', '-j', '1', $t->db, $tree);
is_deeply([sort split /\n/, $out1], [sort split /\n/, $out], '-j 1 finds the same');
($rc, $out, $err) = $t->hashdb('scan', '--follow', $t->db, "$tree/docs");
like($out, qr{^\Q$tree\E/docs/link\.txt: sha256:}m, '--follow: the symlink\'s target is read');

# --- JSON ------------------------------------------------------------------------

($rc, $out) = $t->hashdb('scan', '--json', $t->db, $tree);
my @j = map { eval { decode_json($_) } // { bad => $_ } } split /\n/, $out;
ok(!grep({ $_->{bad} } @j) && @j == 9, 'every line is a JSON object, one per listed file');
my ($cafe) = grep { exists $_->{path_hex} } @j;
ok($cafe && $cafe->{path_hex} eq unpack('H*', "$tree/other/caf\xe9.txt"),
   'a name that is not UTF-8: its bytes in path_hex');
my ($linked) = grep { $_->{paths} } @j;
is(scalar @{ $linked->{paths} // [] }, 2, 'the hard links: "paths" has both');
my ($png) = grep { ($_->{path} // '') =~ /square-256x256\.png$/ } @j;
is_deeply([@$png{qw(match entry distance variant format source)}],
          ["pdq:$pdq", "pdq:$pdq", 0, 'as-is', 'png', 'pdq-list'],
          'a PDQ finding: match, entry, distance, variant, format, source');
ok($png->{size} == length($t->read_file("$tree/photos/2019/square-256x256.png"))
   && $png->{mtime} =~ /^\d{4}-\d\d-\d\dT/, 'size and mtime');

# --- a list of paths; exit codes ------------------------------------------------------

my $list = join "\0", "$tree/docs/clean.txt", "$tree/other/three", "$tree/docs/new\nline";
put("docs/new\nline", "clean, with a newline in its name\n");
($rc, $out, $err) = $t->hashdb('scan', '--files-from', '-', '--null', $t->db, \$list);
is($rc, 1, '--files-from - --null: exit 1');
like($err, qr/: 3 files, .* 1 listed, 0 errors/, 'three files read, one listed');

($rc, $out, $err) = $t->hashdb('scan', $t->db, "$tree/docs/clean.txt", "$tree/photos/unrelated.png");
is($rc, 0, 'nothing listed: exit 0');
is($out, '', 'and nothing printed');

($rc, $out, $err) = $t->hashdb('scan', $t->db, "$tree/missing", "$tree/docs/clean.txt");
is($rc, 2, 'an error and nothing listed: exit 2');
like($err, qr{\Q$tree\E/missing: No such file or directory}, 'the error names the path and why');

SKIP: {
    skip 'not root: cannot test another user', 2 if $>;
    # a file the scanning user cannot read
    put('docs/private', $listed{sha1});
    chmod 0600, "$tree/docs/private";
    chmod 0755, $dir, $tree, "$tree/docs";
    # the reader needs the set and its lock file: nobody's, as for nginx
    my ($uid, $gid) = (getpwnam('nobody'))[2, 3];
    chown $uid, $gid, $t->db, glob("$t->{db}/*");
    my $cmd = "setpriv --reuid=nobody --regid=nogroup --clear-groups $UFTest::BUILD/hashdb scan $t->{db} $tree/docs 2>&1";
    my $o = `$cmd`;
    my $code = $? >> 8;
    like($o, qr{\Q$tree\E/docs/private: Permission denied}, 'unreadable: reported with its reason');
    is($code, 1, 'and the readable listed file still found (exit 1)');
}

($rc, $out, $err) = $t->hashdb('scan', $t->db);
is($rc, 2, 'no path: usage, exit 2');

# --- the cache -------------------------------------------------------------------

my $cache = "$dir/scan.cache";
unlink "$tree/docs/private";
my ($rc0, $full, $e0) = $t->hashdb('scan', '--cache', $cache, $t->db, $tree);
like($e0, qr/ 0 from the cache/, 'a first scan with --cache reads every file');
($rc, $out, $err) = $t->hashdb('scan', '--cache', $cache, $t->db, $tree);
my ($nfiles) = $err =~ /: (\d+) files/;
like($err, qr/ $nfiles from the cache/, 'the next scan reads none: every file from the cache');
is_deeply([sort split /\n/, $out], [sort split /\n/, $full], 'and finds the same');

($rc, $out, $err) = $t->hashdb('scan', '--cache', "$dir/no/such/dir/cache", $t->db, $tree);
ok($rc == 2 && $err =~ m{\Q$dir\E/no/such/dir/cache: No such file or directory}, 'a cache that cannot be opened: exit 2, named');
is($out, '', 'and nothing scanned');

# a list updated: the cached hashes are checked against the new set
put('docs/later.txt', "listed only later\n");
$t->hashdb('scan', '--cache', $cache, $t->db, $tree);
$t->listed(source => 'later-list', lines => [sha256_hex("listed only later\n")]);
($rc, $out, $err) = $t->hashdb('scan', '--cache', $cache, $t->db, $tree);
like($out, qr{^\Q$tree\E/docs/later\.txt: sha256:\w+ source=later-list }m,
     'a file listed after it was cached: found');
like($err, qr/ (\d+) files, .* (\d+) from the cache/, 'without reading it');
my ($f2, $c2) = $err =~ / (\d+) files, .* (\d+) from the cache/;
is($c2, $f2, 'every file from the cache');

# a file changed since, and one replaced by another with the same size and mtime
put('docs/clean.txt', "nothing listed here\n" . $listed{md5});
my $m = (stat "$tree/other/three")[9];
$t->write_file("$tree/other/three.new", 'x' x length $listed{sha256});
utime $m, $m, "$tree/other/three.new";
rename "$tree/other/three.new", "$tree/other/three" or die;
($rc, $out, $err) = $t->hashdb('scan', '--cache', $cache, $t->db, $tree);
($f2, $c2) = $err =~ / (\d+) files, .* (\d+) from the cache/;
is($f2 - $c2, 2, 'a changed file and a replaced one (new inode) are read again');
unlike($out, qr{other/three:}, 'the replaced file is no longer reported');

# a file deleted: --prune drops its record, and only that one
unlink "$tree/docs/later.txt" or die;
($rc, $out, $err) = $t->hashdb('scan', '--cache', $cache, '--prune', $t->db, $tree);
like($err, qr/hashdb scan: 2 records of files gone dropped from the cache/,
     '--prune: the deleted file\'s record and the replaced file\'s old inode\'s dropped');
($rc, $out, $err) = $t->hashdb('scan', '--cache', $cache, '--prune', $t->db, $tree);
like($err, qr/ 0 records of files gone dropped/, 'and nothing else');
($f2, $c2) = $err =~ / (\d+) files, .* (\d+) from the cache/;
is($c2, $f2, 'every remaining file still from the cache');
($rc, $out, $err) = $t->hashdb('scan', '--prune', $t->db, $tree);
ok($rc == 2 && $err =~ /--prune goes with --cache/, '--prune without --cache: a usage error');

# --- shards ------------------------------------------------------------------------

($rc, $full, $err) = $t->hashdb('scan', $t->db, $tree);
my ($total) = $err =~ /: (\d+) files/;
my (@parts, $sum);
for my $i (1 .. 3) {
    my ($r, $o, $e) = $t->hashdb('scan', '--shard', "$i/3", $t->db, $tree);
    push @parts, split /\n/, $o;
    $sum += ($e =~ /: (\d+) files/)[0];
}
is($sum, $total, '--shard 1/3, 2/3, 3/3: every file in exactly one part');
is_deeply([sort @parts], [sort split /\n/, $full], 'and together they find what one scan finds');

# progress: on a terminal only, with an ETA where the list is a file
unlike($err, qr/\r/, 'stderr not a terminal: no progress line');
SKIP: {
    skip 'no script(1)', 2 unless -x '/usr/bin/script';
    my $list = $t->write_file('list.txt', join('', map { "$_\n" } glob("$tree/photos/2019/*")));
    my $tty = `script -qec '$UFTest::BUILD/hashdb scan --rate 0.3 --files-from $list $t->{db}' /dev/null`;
    like($tty, qr/\r\d+ files, [\d.]+ MB \([\d.]+ MB\/s\), \d+ listed, \d+ errors, \d+ %, ETA \d+ s/,
         'on a terminal: files, MB, MB/s, and with a list file its share done and an ETA');
    like($tty, qr/\r5 files, .*\n.*hashdb scan: 5 files/s, 'the last progress line, then the summary');
}

# videos: a listed video, and a re-encoded copy, found by vPDQ; with
# --cache, a video listed after the first scan is found without reading
# it again
SKIP: {
    skip 'no ffmpeg', 7 unless `ffmpeg -version 2>/dev/null` =~ /ffmpeg/;
    my $vdir = "$dir/videos";
    my $chair = "$UFTest::ROOT/t/data/video/chair-orig-22-sd-bar.mp4";
    put('videos/orig.mp4', $t->read_file($chair));
    system('ffmpeg', '-v', 'error', '-y', '-i', $chair, '-vf', 'scale=240:360', '-c:v', 'libx264',
           '-preset', 'ultrafast', '-an', "$tree/videos/half.mp4") == 0 or die 'ffmpeg';
    put('videos/door.mp4', $t->read_file("$UFTest::ROOT/t/data/video/doorknob-hd-no-bar.mp4"));
    my $vdb = "$dir/vdb";
    $t->hashdb('init', $vdb);
    $t->hashdb('import', $vdb, '--source', 'vids', '--unsigned', '--format', 'vpdq',
               "$UFTest::ROOT/t/data/video/hashes-1fps/chair-orig-22-sd-bar.txt");
    my $cache = "$dir/video.cache";
    ($rc, $out, $err) = $t->hashdb('scan', '--cache', $cache, $vdb, "$tree/videos");
    is($rc, 1, 'videos: something listed');
    like($out, qr{^\S+/videos/orig\.mp4: pdq:\w+ entry=pdq:\w+ distance=0 variant=as-is format=mp4 time=0\.000 video="chair-orig-22-sd-bar" listed_frames=23/23 frames=23/23 source=vids }m,
         'the listed video, with its shares');
    like($out, qr{^\S+/videos/half\.mp4: .* video="chair-orig-22-sd-bar" listed_frames=2\d/23 }m,
         'a copy at half size');
    unlike($out, qr{door\.mp4}, 'an unrelated video is not');

    $t->hashdb('import', $vdb, '--source', 'vids', '--unsigned', '--format', 'vpdq',
               "$UFTest::ROOT/t/data/video/hashes-1fps/doorknob-hd-no-bar.txt");
    ($rc, $out, $err) = $t->hashdb('scan', '--cache', $cache, $vdb, "$tree/videos");
    like($out, qr{^\S+/videos/door\.mp4: .* video="doorknob-hd-no-bar" }m,
         'listed after the first scan: found from the cache');
    like($err, qr/3 files, .* 3 from the cache/, 'without reading a video again');

    ($rc, $out) = $t->hashdb('scan', '--json', $vdb, "$tree/videos/orig.mp4");
    like($out, qr/"time":0\.000,"video":"chair-orig-22-sd-bar","listed_frames":23,"listed_frames_matched":23,/,
         '--json names the video and its shares');
}

# --rate: 200 KB/s over ~500 KB of files takes more than a second
my $t0 = time;
($rc) = $t->hashdb('scan', '--rate', '0.2', '-j', '2', $t->db, "$tree/photos");
cmp_ok(time - $t0, '>=', 1, '--rate 0.2 (MB/s): the reads are held back');

$t->finish;
done_testing;
