#!/usr/bin/perl
# kill -9 during a sync leaves the previous set, at any moment; a running
# nginx keeps answering during a sync of millions of entries, sees the old
# set until the commit and the new one right after, with no reload.

use strict;
use warnings;
use lib 't/lib';
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $db = $t->db;
$t->hashdb('init', $db);

# random SHA-256 lines, fast
sub random_list {
    my ($path, $n, @extra) = @_;
    open my $r, '<', '/dev/urandom' or die $!;
    open my $w, '>', $path or die $!;
    my $left = $n;
    while ($left > 0) {
        my $k = $left > 65536 ? 65536 : $left;
        read $r, my $buf, 32 * $k;
        print $w map { unpack('H64', substr $buf, 32 * $_, 32) . "\n" } 0 .. $k - 1;
        $left -= $k;
    }
    print $w map { "$_\n" } @extra;
    close $w;
}

sub count {
    my ($u, $path) = @_ ? @_ : ($t, $db);
    my ($rc, $out) = $u->hashdb('stats', $path);
    return $out =~ /^k\s+\d+\s+\d+\s+\d+\s+(\d+)/m ? $1 : -1;
}

sub listed { ($t->hashdb('lookup', $db, $_[0]))[0] == 0 }

# --- kill -9 at random moments of a sync ------------------------------------

my $old_only = sha256_hex('only in the old list');
my $new_only = sha256_hex('only in the new list');
my $both = sha256_hex('in both lists');
random_list($t->dir . '/old.txt', 100_000, $old_only, $both);
random_list($t->dir . '/new.txt', 300_000, $new_only, $both);
my ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'k', '--unsigned', $t->dir . '/old.txt');
is($rc, 0, 'the old list is in place');
my $old_count = count();

# how long the same sync takes here, to spread the kills over it, and
# what the set holds after it
my $probe = UFTest->new;
$probe->hashdb('init', $probe->db);
$probe->hashdb('sync', $probe->db, '--source', 'k', '--unsigned', $t->dir . '/old.txt');
my $t0 = time;
$probe->hashdb('sync', $probe->db, '--source', 'k', '--unsigned', $t->dir . '/new.txt');
my $span = time - $t0;
my $new_count = count($probe, $probe->db);
is($new_count, 300_002, 'the new list alone holds its 300 002 entries');
$probe->finish;

srand(12345);
my ($old_seen, $new_seen) = (0, 0);
for my $round (1 .. 6) {
    my $delay = rand($span * 1.1);
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec "$UFTest::BUILD/hashdb", 'sync', $db, '--source', 'k', '--unsigned', $t->dir . '/new.txt';
        exit 127;
    }
    sleep $delay;
    kill 'KILL', $pid;
    waitpid $pid, 0;

    my $n = count();
    my $is_old = $n == $old_count && listed($old_only) && !listed($new_only);
    my $is_new = $n == $new_count && !listed($old_only) && listed($new_only);
    ok(($is_old || $is_new) && listed($both),
       sprintf('kill -9 after %.2f s: the set is the old one or the new one, whole (%s)',
               $delay, $is_old ? 'old' : $is_new ? 'new' : "neither: $n entries"));
    $is_old ? $old_seen++ : $new_seen++;

    # put the old state back for the next round
    if (!$is_old) {
        my ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'k',
                                          '--unsigned', '--allow-shrink', $t->dir . '/old.txt');
        die "cannot restore the old list: $err" if $rc;
    }
}
ok($old_seen > 0, "some kills landed before the commit ($old_seen of 6)");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'k', '--unsigned', $t->dir . '/new.txt');
is($rc, 0, 'after all the kills a sync still completes (the writer lock recovers)') or diag $err;

# --- a running nginx during a big sync --------------------------------------

my $n = $ENV{UF_SYNC_ENTRIES} || ($UFTest::ASAN ? 1_000_000 : 10_000_000);
my $before = "listed before the big sync\n" x 20;
my $after = "listed by the big sync\n" x 20;
$t->hashdb('sync', $db, '--source', 'big', '--unsigned', '-', \(sha256_hex($before) . "\n"));
random_list($t->dir . '/big.txt', $n, sha256_hex($after));

$t->start_upstream;
$t->start_nginx(UFTest::proxy_server());

my $sync = fork // die;
if ($sync == 0) {
    open STDOUT, '>', $t->dir . '/sync.out';
    exec "$UFTest::BUILD/hashdb", 'sync', $db, '--source', 'big', '--unsigned', $t->dir . '/big.txt';
    exit 127;
}

my (@states, $bad, $requests);
my $start = time;
while (1) {
    my $done = waitpid($sync, WNOHANG) != 0;
    my $s1 = UFTest::status($t->request('PUT', '/b', $before));
    my $s2 = UFTest::status($t->request('PUT', '/a', $after));
    $requests += 2;
    $bad++ unless ($s1 == 403 || $s1 == 200) && ($s2 == 403 || $s2 == 200);
    push @states, "$s1/$s2";
    last if $done;
    last if time - $start > 600;
}
my $elapsed = time - $start;
is($? >> 8, 0, "the sync of $n entries completed");
ok(!$bad, "nginx answered all $requests requests during the sync (${\ int $elapsed} s)");
is($states[0], '403/200', 'during the sync the old set holds');
is($states[-1], '200/403', 'right after it the new set holds, without reload');
my $s = join ' ', @states;
ok($s =~ /^(403\/200 )*(\S+ )?(200\/403 ?)+$/, 'each file changed state once, never back')
    or diag $s;

$t->finish;
done_testing;
