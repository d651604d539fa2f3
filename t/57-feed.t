#!/usr/bin/perl
# A feed for a fleet (hashdb publish, hashdb pull): a publisher writes
# signed full lists and deltas, a real nginx serves them on loopback,
# three nodes pull.  Nodes converge; a node offline for five updates
# catches up through the deltas, then through the full list once the
# deltas are pruned; the index is fetched conditionally; a tampered,
# truncated, replayed or swapped file is refused with nothing applied
# (or the full list used instead of the bad delta); a kill -9 mid-pull
# leaves the set as it was; the node nginx reads refuses a newly pulled
# entry at the next upload.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Copy qw(copy);
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $dir = $t->dir;
$ENV{TMPDIR} = "$dir/tmp";
make_path("$dir/tmp", "$dir/feed", "$dir/tfeed", "$dir/old", "$dir/other");

sub entry { sha256_hex("a stand-in, number $_[0]\n") }
sub list_of { join '', map { entry($_) . "\n" } @_ }

sub hashdb_ok {
    my ($what, @args) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = $t->hashdb(@args);
    is($rc, 0, $what) or diag "$out$err";
    return $out;
}

my @nodes = ($t->db, "$dir/n2", "$dir/n3");
hashdb_ok('keygen', 'keygen', '--secret', "$dir/sec.pem", '--public', "$dir/pub.pem");
hashdb_ok('a second key', 'keygen', '--secret', "$dir/sec2.pem", '--public', "$dir/pub2.pem");
for my $n (@nodes) {
    $t->hashdb('init', $n);
    hashdb_ok("trust the publisher's key on $n", 'trust', $n, '--source', 'police', "$dir/pub.pem");
}

# the publisher's lists: day N lists stand-ins N*5 .. N*5+99
sub day { my $d = shift; return list_of($d * 5 .. $d * 5 + 99) }
sub publish {
    my ($d, @opt) = @_;
    $t->write_file("list-$d.txt", day($d));
    return hashdb_ok("publish day $d", 'publish', "$dir/feed", '--source', 'police',
                     '--key', "$dir/sec.pem", @opt, "$dir/list-$d.txt");
}

like(publish(1), qr/published sequence 1: 100 rows/, 'the first publication: the full list');

$t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        access_log $dir/feed.log;
        location /feed/ { alias $dir/feed/; }
        location /t/ { alias $dir/tfeed/; }
        location /old/ { alias $dir/old/; }
        location /other/ { alias $dir/other/; }
        location /slow/ { alias $dir/feed/; limit_rate 200k; }
        location /upload {
            upload_filter on;
            proxy_pass http://127.0.0.1:%%PORT%%/sink;
        }
        location = /sink { return 204; }
    }
EOF
my $url = "http://127.0.0.1:$t->{port}/feed/";

sub pull {      # node, URL (undef: the feed), options
    my ($node, $u, @opt) = @_;
    my ($rc, $out, $err) = $t->hashdb('pull', $node, '--source', 'police',
                                      '--retries', 0, @opt, $u // $url);
    return ($rc, $out . $err);
}

sub seq_of {
    my ($node) = @_;
    my ($rc, $out) = $t->hashdb('stats', '--json', $node);
    my ($seq) = $out =~ /"name":\s*"police".*?"seq":\s*(\d+)/s;
    return $seq // 0;
}

sub holds {
    my ($node, $n) = @_;
    my ($rc) = $t->hashdb('lookup', $node, entry($n));
    return $rc == 0;
}

for my $n (@nodes) {
    my ($rc, $out) = pull($n);
    is($rc, 0, "$n: first pull") or diag $out;
    like($out, qr/sequence 0 -> 1 from the full list/, 'from the full list');
}
ok(holds($nodes[2], 50) && !holds($nodes[2], 200), 'a node holds day 1');

# days 2 .. 6: node 1 and 3 pull each day, node 2 is offline
for my $d (2 .. 6) {
    like(publish($d), qr/delta from \d+: 5 added, 5 removed/, "day $d: a delta of the day's churn");
    for my $n (@nodes[0, 2]) {
        my ($rc, $out) = pull($n);
        like($out, qr/sequence ${\ ($d - 1)} -> $d through 1 deltas/, "day $d: $n through the delta")
            or diag $out;
    }
}
{
    my ($rc, $out) = pull($nodes[1]);
    is($rc, 0, 'the node offline for five updates');
    like($out, qr/sequence 1 -> 6 through 5 deltas/, 'catches up through the five deltas, in one go');
    is(seq_of($_), 6, "$_: at sequence 6") for @nodes;
    my @same = grep { holds($nodes[0], $_) == holds($nodes[1], $_)
                      && holds($nodes[1], $_) == holds($nodes[2], $_) } (0, 20, 29, 30, 64, 129, 130);
    is(scalar @same, 7, 'the three nodes converged: the same entries listed');
    ok(!holds($nodes[1], 29) && holds($nodes[1], 30) && holds($nodes[1], 129) && !holds($nodes[1], 130),
       'exactly day 6');
}

# nothing new: the index is fetched conditionally
{
    my ($rc, $out) = pull($nodes[0]);
    like($out, qr/up to date at sequence 6 \(the index has not changed\)/, 'up to date');
    like($t->read_file('feed.log'), qr{"GET /feed/index\.txt HTTP/1\.1" 304 }, 'a 304 from nginx');
}

# the node nginx reads: an entry listed by today's pull is refused
{
    my $resp = $t->request('POST', '/upload', "a stand-in, number 129\n");
    is(UFTest::status($resp), 403, 'a pulled entry: the upload refused');
    $resp = $t->request('POST', '/upload', "a stand-in, number 29\n");
    is(UFTest::status($resp), 204, 'one the deltas removed: passes');
}

# old indexes and files, for the attacks below
copy("$dir/feed/index.txt", "$dir/old/index.txt");

# pruning: with --keep 2, node 2 (left at 6) is further behind than the deltas
publish($_, '--keep', 2) for 7 .. 9;
{
    opendir my $dh, "$dir/feed" or die;
    my @files = sort grep { /\.gz$/ } readdir $dh;
    is("@files", 'delta-8.csv.gz delta-9.csv.gz full-8.csv.gz full-9.csv.gz',
       'the feed keeps two deltas, the full list and the one before');
    my ($rc, $out) = pull($nodes[1]);
    is($rc, 0, 'the node behind the pruned deltas');
    like($out, qr/further behind than the feed's deltas: pulling the full list/, 'says why');
    like($out, qr/sequence 6 -> 9 from the full list/, 'and catches up through the full list');
    ok(holds($nodes[1], 144) && !holds($nodes[1], 44), 'at day 9');
    ($rc, $out) = pull($nodes[0]);
    like($out, qr/sequence 6 -> 9 from the full list/, 'so does node 1');
}

sub mirror {    # the feed as it is, into tfeed, to be altered
    system("rm -rf $dir/tfeed && cp -r $dir/feed $dir/tfeed") == 0 or die;
}
my $turl = "http://127.0.0.1:$t->{port}/t/";

# an altered delta: refused, the full list used instead
publish(10);
mirror();
{
    my $gz = $t->read_file('tfeed/delta-10.csv.gz');
    substr($gz, 20, 1) = chr(ord(substr($gz, 20, 1)) ^ 1);
    $t->write_file('tfeed/delta-10.csv.gz', $gz);
    my ($rc, $out) = pull($nodes[0], $turl);
    like($out, qr/delta 10: delta-10\.csv\.gz: not the SHA-256 the index names \(altered\): pulling the full list instead/, 'an altered delta: refused');
    like($out, qr/sequence 9 -> 10 from the full list/, 'the full list instead');
    is($rc, 0, 'the node is up to date');
}

# a truncated full list, and no delta to use: nothing applied
publish(11);
mirror();
{
    unlink "$dir/tfeed/delta-11.csv.gz";
    my $gz = $t->read_file('tfeed/full-11.csv.gz');
    $t->write_file('tfeed/full-11.csv.gz', substr($gz, 0, length($gz) / 2));
    my ($rc, $out) = pull($nodes[0], $turl);
    is($rc, 2, 'a truncated full list: refused');
    like($out, qr/delta 11: .*HTTP status 404: pulling the full list instead/, 'the delta missing, said');
    like($out, qr/full-11\.csv\.gz: \d+ bytes, not the \d+ the index names \(cut short\); nothing applied/,
         'the full list cut short, said; nothing applied');
    is(seq_of($nodes[0]), 10, 'the set as it was');
}

# an altered index: its signature fails
mirror();
{
    my $ix = $t->read_file('tfeed/index.txt');
    $ix =~ s/^latest: 11$/latest: 12/m or die;
    $t->write_file('tfeed/index.txt', $ix);
    my ($rc, $out) = pull($nodes[0], $turl);
    is($rc, 2, 'an altered index: refused');
    like($out, qr/the signature is for other lines.*nothing applied/, 'said');
}

# a swapped delta (another day's, under this day's name)
mirror();
{
    copy("$dir/feed/delta-10.csv.gz", "$dir/tfeed/delta-11.csv.gz");
    copy("$dir/feed/delta-10.csv.sig", "$dir/tfeed/delta-11.csv.sig");
    my ($rc, $out) = pull($nodes[0], $turl);
    like($out, qr/delta 11: delta-11\.csv\.gz: (more than the \d+ bytes the index names|not the SHA-256 the index names)/, 'a swapped delta: refused');
    like($out, qr/sequence 10 -> 11 from the full list/, 'the full list instead');
}

# a replayed index: older than the set
{
    my ($rc, $out) = pull($nodes[0], "http://127.0.0.1:$t->{port}/old/");
    is($rc, 2, 'a replayed index (sequence 6): refused');
    like($out, qr/at sequence 6, older than the set's 11 \(a replayed or stale index\); nothing applied/, 'said');
    is(seq_of($nodes[0]), 11, 'the set as it was');
}

# a feed signed with a key the node does not trust
{
    $t->write_file('other-list.txt', day(3));
    $t->hashdb('publish', "$dir/other", '--source', 'police', '--key', "$dir/sec2.pem", "$dir/other-list.txt");
    my ($rc, $out) = pull($nodes[2], "http://127.0.0.1:$t->{port}/other/");
    is($rc, 2, 'another key: refused');
    like($out, qr/signed with a key not trusted for source "police"; nothing applied/, 'said');
}

# kill -9 in the middle of a pull: the set as it was, the next pull works
{
    my $big = join '', map { sha256_hex("bulk $_") . "\n" } 1 .. 60_000;
    $t->write_file('list-big.txt', day(12) . $big);
    hashdb_ok('publish a large day', 'publish', "$dir/feed", '--source', 'police', '--key', "$dir/sec.pem",
              '--keep', 0, "$dir/list-big.txt");
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', "$dir/kill.out";
        open STDERR, '>&', \*STDOUT;
        exec "$UFTest::BUILD/hashdb", 'pull', $nodes[2], '--source', 'police',
             "http://127.0.0.1:$t->{port}/slow/" or exit 127;
    }
    select undef, undef, undef, 1.5;
    kill 'KILL', $pid;
    waitpid $pid, 0;
    is(seq_of($nodes[2]), 6, 'killed mid-download: the set still at its sequence')
        or diag $t->read_file('kill.out');
    ok(holds($nodes[2], 129) && !holds($nodes[2], 29), 'its entries as they were (day 6)');
    my ($rc, $out) = pull($nodes[2]);
    is($rc, 0, 'the next pull works') or diag $out;
    like($out, qr/-> 12 from the full list/, 'to the large day');
    ok(!holds($nodes[2], 54) && holds($nodes[2], 60), 'day 12, exactly');
    ($rc, $out) = $t->hashdb('lookup', $nodes[2], sha256_hex('bulk 59999'));
    is($rc, 0, 'and the bulk entries');
}

# the publisher refuses, with nothing published: a bad line, a sequence
# not above the feed's, another source's feed
{
    my $before = $t->read_file('feed/index.txt');
    $t->write_file('bad-list.txt', day(12) . "not a digest\n");
    my ($rc, $out, $err) = $t->hashdb('publish', "$dir/feed", '--source', 'police',
                                      '--key', "$dir/sec.pem", "$dir/bad-list.txt");
    is($rc, 2, 'publish: a bad line refused');
    like($err, qr/bad-list\.txt:101: .*nothing published/, 'naming the line');
    ($rc, $out, $err) = $t->hashdb('publish', "$dir/feed", '--source', 'police', '--seq', 5,
                                   '--key', "$dir/sec.pem", "$dir/list-11.txt");
    is($rc, 2, 'publish: a sequence not above the feed\'s refused');
    like($err, qr/--seq 5: the feed is at 12 already; nothing published/, 'said');
    ($rc, $out, $err) = $t->hashdb('publish', "$dir/feed", '--source', 'hotline',
                                   '--key', "$dir/sec.pem", "$dir/list-11.txt");
    is($rc, 2, 'publish: another source into this feed refused');
    like($err, qr/a feed of source "police", not "hotline"; nothing published/, 'said');
    is($t->read_file('feed/index.txt'), $before, 'the index unchanged');
}

# the daily job (upload-filter-sync@NAME) with FEED_URL pulls
{
    publish(13, '--keep', 5);
    local $ENV{PATH} = "$UFTest::BUILD:$ENV{PATH}";
    local $ENV{HASHSET} = $nodes[1];
    local $ENV{FEED_URL} = $url;
    local $ENV{SOURCE} = 'police';
    my $out = `sh $UFTest::ROOT/deploy/upload-filter-sync.sh police 2>&1`;
    is($? >> 8, 0, 'the sync job with FEED_URL') or diag $out;
    like($out, qr/police: sequence \d+ -> 13 /, 'pulls the feed');
}

# pull --shadow: the delta's additions staged, its removals at once
{
    publish(14, '--keep', 5);
    my ($rc, $out) = pull($nodes[1], undef, '--shadow');
    is($rc, 0, 'pull --shadow') or diag $out;
    my $added = 14 * 5 + 99;
    like(($t->hashdb('lookup', $nodes[1], entry($added)))[1], qr/action=shadow$/m,
         'pull --shadow: what the delta adds is staged');
    ok(!holds($nodes[1], 13 * 5), 'pull --shadow: what it removes is gone');
    like(($t->hashdb('promote', $nodes[1], '--source', 'police'))[1],
         qr/^police: 5 staged entries/m, 'promote: the 5 entries the delta added');
    unlike(($t->hashdb('lookup', $nodes[1], entry($added)))[1], qr/action=/,
           'promoted: live');
}

# jitter, and a feed that cannot be reached
{
    my ($rc, $out) = pull($nodes[1], undef, '--jitter', 1);
    like($out, qr/waiting 0\.\d{3} s first \(--jitter 1\)/, '--jitter: a random wait first');
    my $dead = UFTest::free_port();
    ($rc, $out) = pull($nodes[1], "http://127.0.0.1:$dead/", '--retries', 1, '--timeout', 1);
    is($rc, 2, 'an unreachable feed: exit 2');
    like($out, qr/index\.txt: .*nothing applied/, 'said, nothing applied');
    ($rc, $out) = pull($nodes[1], 'file:///etc/');
    like($out, qr/not an http:\/\/ or https:\/\/ URL/, 'only HTTP and HTTPS');
}

$t->finish;
done_testing;
