#!/usr/bin/perl
# The documented daily job (deploy/upload-filter-sync.sh): fetch a signed
# list over HTTP and sync it; a tampered download changes nothing.  And
# the progress display: on a terminal only.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $db = $t->db;
my $k = $t->dir;
$t->hashdb('init', $db);
$t->hashdb('keygen', '--secret', "$k/sk.pem", '--public', "$k/pk.pem");
$t->hashdb('trust', $db, '--source', 'hotline', "$k/pk.pem");

my @h = map { sha256_hex("published file $_") } 1 .. 3;
$t->write_file('html/lists/full.txt', join("\n", @h) . "\n");
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'hotline', '--seq', 20261122,
           "$k/html/lists/full.txt");

$t->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
    }
EOF2

# as upload-filter-sync@hotline.service runs it: the instance name as
# the argument, the settings of sources/hotline.conf in the environment
sub run_job {
    my (%env) = @_;
    local $ENV{PATH} = "$UFTest::BUILD:$ENV{PATH}";
    local $ENV{HASHSET} = $db;
    local $ENV{LIST_URL} = "http://127.0.0.1:$t->{port}/lists/full.txt";
    local @ENV{keys %env} = values %env;
    delete @ENV{grep { !defined $env{$_} } keys %env};
    my $out = `sh $UFTest::ROOT/deploy/upload-filter-sync.sh hotline 2>&1`;
    return ($? >> 8, $out);
}

{
    my ($rc0, $out0) = run_job(LIST_URL => undef);
    ok($rc0 == 2 && $out0 =~ m{^upload-filter-sync: hotline: neither FEED_URL nor LIST_URL is set \(in /etc/upload-filter/sources/hotline\.conf\)$}m,
       'without LIST_URL: refused, naming the file to set it in') or diag $out0;
    is(($t->hashdb('stats', $db))[1] =~ /hotline/ ? 1 : 0, 0, 'and nothing fetched or applied');
}

my ($rc, $out) = run_job();
is($rc, 0, 'the sync job fetches and applies a signed list') or diag $out;
like($out, qr/hotline: sync of .*3 rows, 3 entries added.*signature good\nhotline: sequence 20261122/s, 'and reports it');
is(($t->hashdb('lookup', $db, $h[0]))[0], 0, 'the list is in the hash set');

($rc, $out) = run_job();
ok($rc == 2 && $out =~ /not newer than 20261122/, 'the same list fetched again is refused as a replay');

# the next day's list names a file already stored: the job's scan finds it
{
    my $store = "$k/store";
    $t->write_file("$store/a/kept.bin", "published file 4");
    $t->write_file("$store/b/clean.bin", "never listed");
    $t->write_file('html/lists/full.txt', join("\n", @h, sha256_hex('published file 4')) . "\n");
    $t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'hotline', '--seq', 20261123,
               "$k/html/lists/full.txt");
    ($rc, $out) = run_job(SCAN_PATHS => $store, SCAN_CACHE => "$k/scan.cache",
                          REPORT_DIR => "$k/reports");
    is($rc, 1, 'after the sync, the job scans the store: exit 1, something listed') or diag $out;
    like($out, qr{upload-filter-sync: scan: 1 listed, see \Q$k\E/reports/scan-\S+\.json}, 'and says where the report is');
    my ($report) = glob("$k/reports/scan-*.json");
    like($t->read_file($report) // '', qr{"path":"\Q$store\E/a/kept\.bin".*"source":"hotline"}, 'the report names the file');
    ok(-s "$k/scan.cache", 'with its cache for tomorrow');
}

$t->write_file('html/lists/full.txt', join("\n", @h, sha256_hex('injected')) . "\n");
($rc, $out) = run_job();
ok($rc == 2 && $out =~ /signature is for other content/, 'a tampered download is refused');
is(($t->hashdb('lookup', $db, sha256_hex('injected')))[0], 1, 'and nothing of it applied');

# a truncated download (one line of four) is refused as a shrink, unless
# the operator says so
{
    $t->write_file('html/lists/full.txt', "$h[0]\n");
    $t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'hotline', '--seq', 20261124,
               "$k/html/lists/full.txt");
    ($rc, $out) = run_job();
    ok($rc == 2 && $out =~ /a sync would remove more than half of it/, 'a list under half of the source: refused') or diag $out;
    is(($t->hashdb('lookup', $db, $h[1]))[0], 0, 'and the source is as it was');
    ($rc, $out) = run_job(ALLOW_SHRINK => 'yes');
    is($rc, 0, 'ALLOW_SHRINK=yes: applied') or diag $out;
    is(($t->hashdb('lookup', $db, $h[1]))[0], 1, 'the dropped entries gone');
}

# SHADOW=yes: what the day's list adds is staged, logged only
{
    my $new = sha256_hex('published file 5');
    $t->write_file('html/lists/full.txt', "$h[0]\n$new\n");
    $t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'hotline', '--seq', 20261125,
               "$k/html/lists/full.txt");
    ($rc, $out) = run_job(SHADOW => 'yes');
    is($rc, 0, 'SHADOW=yes: applied') or diag $out;
    like(($t->hashdb('lookup', $db, $new))[1], qr/listed\tsource=hotline .*action=shadow$/m,
         'SHADOW=yes: the added entry is staged');
    unlike(($t->hashdb('lookup', $db, $h[0]))[1], qr/action=/,
           'SHADOW=yes: an entry listed before stays live');
}

# progress: shown on a terminal, not otherwise
SKIP: {
    skip 'no script(1)', 2 unless -x '/usr/bin/script';
    my $list = $t->write_file('p.txt', join('', map { sha256_hex("p$_") . "\n" } 1 .. 1000));
    my $tty = `script -qec '$UFTest::BUILD/hashdb import $db --source p --unsigned $list' /dev/null`;
    like($tty, qr/\rhashdb: checking: 1000 lines\r?\n.*\rhashdb: applying: 1000 lines/s,
         'on a terminal: progress lines');
    my ($rc2, $o2, $e2) = $t->hashdb('import', $db, '--source', 'p2', '--unsigned', $list);
    is($e2, '', 'not on a terminal: nothing on stderr');
}

$t->finish;
done_testing;
