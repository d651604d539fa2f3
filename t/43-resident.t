#!/usr/bin/perl
# upload_filter_resident: "warm" and "lock" bring the hash set into memory
# and keep it there when the host pages it out; "off" (the default) leaves
# it to the page cache.  Paging out is done as the host would
# (t/page_out.pl: process_madvise MADV_PAGEOUT on every nginx process,
# then the page cache); "hashdb stats" says how much of the set is in
# memory.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $listed = "a listed file\n" x 20;
my $clean = "a clean file\n" x 20;

# 150 000 digests more, so that the set spans some 14 MB of pages
my @random = map { sha256_hex("random entry $_") } 1 .. 150_000;
$t->listed(lines => [sha256_hex($listed), @random]);
$t->start_upstream;

my $data = $t->db . '/data.mdb';
my $page_out = 't/page_out.pl';

# (in memory, in use), in bytes, as hashdb stats --json says
sub in_memory {
    my ($rc, $out) = $t->hashdb('stats', '--json', $t->db);
    my ($use) = $out =~ /"in_use": (\d+)/;
    my ($mem) = $out =~ /"in_memory": (\d+)/;
    return ($mem // 0, $use // 1);
}

sub fraction { my ($m, $u) = in_memory(); return $m / $u }

# the error log since the last start_nginx() of this test, once it
# matches (or as it is after a few seconds)
my $mark = 0;
sub start {
    $mark = length $t->error_log;
    return $t->start_nginx(@_);
}
sub new_log {
    my ($re) = @_;
    my $log = '';
    for (1 .. 100) {
        $log = substr $t->error_log, $mark;
        last if $log =~ $re;
        sleep 0.05;
    }
    return $log;
}

# waits (a few seconds at most) until all of the set is in memory;
# returns the pages in memory and the pages of the set (whole numbers:
# "all" is their equality, not a fraction that rounds)
sub wait_in_memory {
    my ($m, $u) = (0, 1);
    for (1 .. 50) {
        ($m, $u) = in_memory();
        last if $m == $u;
        sleep 0.1;
    }
    return ($m, $u);
}

# a capability of this (root) process: root in a container may lack some
sub has_cap {
    my ($bit) = @_;
    my ($cap) = ($t->read_file('/proc/self/status') // '') =~ /^CapEff:\s+([0-9a-f]+)/m;
    # the low 32 bits are enough: hex() of more warns as non-portable
    return $> == 0 && defined $cap && (hex(substr($cap, -8)) >> $bit) & 1;
}
# CAP_SYS_RESOURCE raises hard limits; CAP_IPC_LOCK locks past them
sub can_raise_limits { has_cap(24) }
sub can_lock { has_cap(14) || can_raise_limits() }

# pages the set out of every process that maps it (nginx's workers)
sub page_out {
    my @pids = $t->worker_pids;     # none before nginx starts
    my $out = `$^X $page_out $data @pids 2>&1`;
    return $? >> 8;
}

sub server {
    my ($resident) = @_;
    return "    upload_filter_resident $resident;\n" . UFTest::proxy_server();
}

# the first worker's VmLck, in bytes
sub locked {
    my ($pid) = $t->worker_stats;
    my ($kb) = ($t->read_file("/proc/$pid/status") // '') =~ /VmLck:\s+(\d+)/;
    return ($kb // 0) * 1024;
}

# can this machine page a mapping out?  (Linux >= 5.10, CAP_SYS_NICE)
start(server('off'));
my $can_page_out = page_out() != 2;

subtest 'off: the set is left to the page cache' => sub {
    my $before = fraction();
    ok($before < 0.5, 'paged out: under half in memory')
        or diag sprintf '%.2f', $before;
    sleep 1.5;
    is(fraction(), $before, 'nothing reads it in the background');
    is(UFTest::status($t->request('PUT', '/a', $listed)), 403, 'listed: 403');
    is(UFTest::status($t->request('PUT', '/b', $clean)), 200, 'clean: 200');
    is(locked(), 0, 'nothing locked');
    unlike(new_log(qr/^$/), qr/upload_filter_resident/, 'nothing logged');
};
$t->stop_nginx;

subtest 'warm: read into memory at start, read back after a page-out' => sub {
    page_out();
    ok(fraction() < 0.5, 'out of memory before nginx starts');
    start(server('warm 500ms'));
    like(new_log(qr/kept warm/), qr/\[notice\].*upload_filter_resident: hash set ".*" kept warm, \d+ KiB \(\d+ KiB read back\) in memory after \d+ ms, then walked every 500 ms/,
         'a notice once the set is in memory');
    is(fraction(), 1, 'all of the set in memory');
    is(locked(), 0, 'nothing locked');
    is(UFTest::status($t->request('PUT', '/c', $listed)), 403, 'listed: 403');
    is(UFTest::status($t->request('PUT', '/d', $clean)), 200, 'clean: 200');

    SKIP: {
        skip 'this kernel cannot page out a mapping', 3 unless $can_page_out;
        page_out();
        ok(fraction() < 0.5, 'paged out by the host');
        my ($m, $u) = wait_in_memory();
        is($m, $u, 'back in memory within a few periods');
        like(new_log(qr/read back$/m), qr/\[info\].*upload_filter_resident: \d+ KiB of the hash set ".*" had been paged out, read back/,
             'what was read back is logged (info)');
    }
};
$t->stop_nginx;

# AddressSanitizer's mlock() returns 0 and locks nothing
my $no_mlock = $UFTest::ASAN;

subtest 'lock: locked at start, the host cannot page it out' => sub {
    plan skip_all => 'AddressSanitizer ignores mlock()' if $no_mlock;
    plan skip_all => 'root here may not lock memory' unless can_lock();
    page_out();
    start(server('lock'));
    like(new_log(qr/locked in memory/), qr/\[notice\].*upload_filter_resident: hash set ".*" locked in memory, \d+ KiB in \d+ ms/,
         'a notice when the set is locked');
    my ($mem, $use) = in_memory();
    is($mem, $use, 'all of the set in memory');
    cmp_ok(locked(), '>=', $use, "the first worker's VmLck covers it");

    SKIP: {
        skip 'this kernel cannot page out a mapping', 1 unless $can_page_out;
        page_out();
        is(fraction(), 1, 'a page-out leaves it in memory');
    }

    # the updater adds pages: they are locked too
    my @more = map { sha256_hex("more $_") } 1 .. 50_000;
    my $lines = join '', map { "$_\n" } @more;
    my ($rc) = $t->hashdb('import', $t->db, '--source', 'more', '--unsigned', '-', \$lines);
    is($rc, 0, 'an import while nginx runs');
    ($mem, $use) = in_memory();
    my $ok = 0;
    for (1 .. 40) {
        last if ($ok = locked() >= $use);
        sleep 0.1;
    }
    ok($ok, 'the grown set is locked within seconds') or diag locked() . " < $use";
    is(UFTest::status($t->request('PUT', '/e', $listed)), 403, 'listed: 403');
};
$t->stop_nginx;

subtest 'lock in workers that run as nobody' => sub {
    plan skip_all => 'needs root' if $> != 0;
    plan skip_all => 'AddressSanitizer ignores mlock()' if $no_mlock;
    # nobody may read the set through its group, as deploy/ sets it up
    system('chgrp', '-R', 'nogroup', $t->db) == 0
        or plan skip_all => 'no group nogroup';
    chmod 0750, $t->db;
    chmod 0660, $t->db . '/lock.mdb';
    chmod 0755, $t->dir;
    page_out();
    start(server('lock'), user => 'user nobody nogroup;');
    if (can_raise_limits()) {
        # the master raised RLIMIT_MEMLOCK before it forked the workers
        like(new_log(qr/locked in memory/), qr/locked in memory/,
             'locked, although nobody may lock 8 MiB by default');
        cmp_ok(locked(), '>=', (in_memory())[1], 'VmLck covers the set');
    } else {
        # here the limit stays: mlock() fails, and the set is kept warm
        my $log = new_log(qr/kept warm/);
        like($log, qr/\[warn\].*upload_filter_resident lock: mlock\(\) of the hash set ".*" \(\d+ KiB\) failed with RLIMIT_MEMLOCK at \d+ bytes; keeping it warm instead/,
             'mlock() refused: a warning that says why and what instead');
        like($log, qr/kept warm/, 'the set is kept warm');
        like($log, qr/\[notice\].*RLIMIT_MEMLOCK could not be raised past \d+ bytes/,
             'the master said it could not raise the limit');
    }
    my ($m, $u) = wait_in_memory();
    is($m, $u, 'all of it in memory');
    is(UFTest::status($t->request('PUT', '/f', $listed)), 403, 'listed: 403');
};
$t->stop_nginx;

my ($rc, $out) = $t->nginx_test(server('lock 5s'));
like($out, qr/only "warm" takes a period/, 'lock takes no period');
($rc, $out) = $t->nginx_test(server('warm 10ms'));
like($out, qr/invalid period "10ms": a time of at least 100ms/, 'a period too short');
($rc, $out) = $t->nginx_test(server('always'));
like($out, qr/invalid value "always", it must be "off", "warm" or "lock"/, 'an unknown mode');
($rc, $out) = $t->nginx_test("upload_filter_resident warm;\n" . server('lock'));
like($out, qr/"upload_filter_resident" directive is duplicate/, 'twice');

$t->finish;
done_testing;
