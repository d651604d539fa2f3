#!/usr/bin/perl
# Policies that bound a bad entry, end to end with a real nginx: per-source
# action and categories (hashdb policy, live for running workers), the
# sources a location applies (upload_filter_sources), shadow updates
# (sync/apply --shadow, hashdb promote), and the flood alarm
# (upload_filter_flood, hashdb flood-clear), with clients on distinct
# loopback addresses.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex sha1_hex multipart);

my $t = UFTest->new;
my $db = $t->db;

# benign stand-ins, one per role
my %f = map { $_ => "policy stand-in $_\n" x 20 }
        qw(a1 b1 new both feed1 feed2 feed3 flood clean types);
my %h = map { $_ => sha256_hex($f{$_}) } keys %f;

sub hashdb_ok {
    my ($what, @args) = @_;
    my ($rc, $out, $err) = $t->hashdb(@args);
    is($rc, 0, "$what: hashdb $args[0] exits 0") or diag($err);
    return $out;
}

sub csv { join '', "type,hash,category\n", map { "sha256,$_->[0],$_->[1]\n" } @_ }

$t->listed(source => 'main', category => 'A1', lines => [$h{a1}, $h{both}]);
$t->listed(source => 'main', category => 'B1', lines => [$h{b1}]);
$t->listed(source => 'newlist', lines => [$h{new}, $h{both}]);

$t->start_upstream;
$t->start_nginx(
    "    upload_filter_flood 3 per 1m action=log;\n"
    . UFTest::proxy_server(
        proxied => ['/tenant/' => 'upload_filter_sources newlist;',
                    '/both/' => 'upload_filter_sources main newlist;'],
        locations => "        location = /metrics { upload_filter_metrics; }\n"));

sub put {
    my ($uri, $body, $from) = @_;
    my $req = "PUT $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return $t->raw($req, $from ? (from => $from) : ());
}
sub scrape { scalar `curl -s http://127.0.0.1:$t->{port}/metrics` }
sub log_since {
    my ($mark) = @_;
    return substr($t->error_log, $mark);
}

# -- per-source action, live ---------------------------------------------

$t->expect(put('/up', $f{new}), 403, undef, 'newlist, default policy');

my $mark = length $t->error_log;
hashdb_ok('log-only', 'policy', $db, '--source', 'newlist', '--action', 'log');
like(hashdb_ok('policy printed', 'policy', $db, '--source', 'newlist'),
     qr/^action: log$/m, 'hashdb policy prints the action');
$t->expect(put('/up', $f{new}), 200, $f{new},
           'newlist log-only, no reload: passes whole');
like(log_since($mark), qr/\[warn\].*match action=log digest=sha256:$h{new} source="newlist"/,
     'log-only source: the match is logged with action=log');
$t->like_access(qr{^PUT /up 200 result=match match=sha256:$h{new} source=newlist}m,
                'log-only source: the variables name the match');

# an entry that a blocking source lists too is blocked, named by it
$mark = length $t->error_log;
$t->expect(put('/up', $f{both}), 403, undef, 'listed by a log-only and a blocking source');
like(log_since($mark), qr/match action=block digest=sha256:$h{both} source="main"/,
     'the blocking source names the match');

# another list holds the same file by another digest: it still blocks
$t->listed(source => 'newlist', lines => [sha1_hex($f{types})]);
$t->listed(source => 'main', category => 'A1', lines => [$h{types}]);
$mark = length $t->error_log;
$t->expect(put('/up', $f{types}), 403, undef,
           'SHA-1 in a log-only list, SHA-256 in a blocking one');
like(log_since($mark), qr/match action=block digest=sha256:$h{types} source="main"/,
     'the blocking list\'s digest names the match');

# a match only logged does not decide the rest of the body
{
    my $b = 'pb';
    my $body = "--$b\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a\"\r\n\r\n"
             . "$f{new}\r\n--$b\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nunterminated";
    my $req = "POST /up HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Content-Type: multipart/form-data; boundary=$b\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body";
    $t->expect($t->raw($req), 400, undef,
               'a log-only match, then a malformed part: the malformed policy');
}

hashdb_ok('block again', 'policy', $db, '--source', 'newlist', '--action', 'block');
$t->expect(put('/up', $f{new}), 403, undef, 'newlist back to block: refused at once');

# -- categories -----------------------------------------------------------

hashdb_ok('categories', 'policy', $db, '--source', 'main', '--categories', 'A1');
$t->expect(put('/up', $f{a1}), 403, undef, 'category A1 blocks');
$mark = length $t->error_log;
$t->expect(put('/up', $f{b1}), 200, $f{b1}, 'category B1, not in the policy: passes');
like(log_since($mark), qr/match action=log digest=sha256:$h{b1} source="main" category="B1"/,
     'another category: logged with action=log');
like(hashdb_ok('stats', 'stats', $db), qr/^main\s.*\(blocks A1\)$/m,
     'hashdb stats shows the categories that block');
hashdb_ok('all categories', 'policy', $db, '--source', 'main', '--all-categories');
$t->expect(put('/up', $f{b1}), 403, undef, '--all-categories: B1 blocks again');
hashdb_ok('categories again', 'policy', $db, '--source', 'main', '--categories', 'A1');
hashdb_ok('all categories and an action', 'policy', $db, '--source', 'main',
          '--all-categories', '--action', 'block');
unlike(hashdb_ok('printed', 'policy', $db, '--source', 'main'), qr/^categories: A1$/m,
       '--all-categories before --action: the categories are cleared');
$t->expect(put('/up', $f{b1}), 403, undef, '--all-categories --action block: B1 blocks');

my ($rc, $out, $err) = $t->hashdb('policy', $db, '--source', 'nope', '--action', 'log');
ok($rc == 2 && $err =~ /no source "nope"/, 'a policy for no such source is refused');
($rc, $out, $err) = $t->hashdb('policy', $db, '--source', 'main', '--categories', 'far-too-long');
ok($rc == 2, 'a bad category is refused');

# -- upload_filter_sources ------------------------------------------------

$t->expect(put('/tenant/x', $f{a1}), 200, $f{a1},
           'upload_filter_sources newlist: main\'s entry passes');
$t->like_access(qr{^PUT /tenant/x 200 result=clean }m, 'and is clean there');
$t->expect(put('/tenant/x', $f{new}), 403, undef, 'upload_filter_sources newlist: its entry blocks');
$t->expect(put('/both/x', $f{a1}), 403, undef, 'upload_filter_sources main newlist: main blocks');
$t->expect(put('/up', $f{a1}), 403, undef, 'a location without it: every source');

# -- shadow updates -------------------------------------------------------

$t->write_file('feed-1.csv', csv([$h{feed1}, 'A1']));
hashdb_ok('first sync', 'sync', $db, '--source', 'feed', '--unsigned',
          "$t->{dir}/feed-1.csv");
$t->expect(put('/up', $f{feed1}), 403, undef, 'a live entry of the feed');

# the next list drops feed1 and adds feed2, staged
$t->write_file('feed-2.csv', csv([$h{feed2}, 'A1']));
$out = hashdb_ok('shadow sync', 'sync', $db, '--source', 'feed', '--unsigned',
                 '--shadow', '--allow-shrink', "$t->{dir}/feed-2.csv");
$t->expect(put('/up', $f{feed1}), 200, $f{feed1},
           'shadow sync: what it removes goes at once');
$mark = length $t->error_log;
$t->expect(put('/up', $f{feed2}), 200, $f{feed2}, 'shadow sync: what it adds passes');
like(log_since($mark), qr/match action=shadow digest=sha256:$h{feed2} source="feed"/,
     'a staged entry is logged with action=shadow');
$t->like_access(qr{^PUT /up 200 result=shadow match=sha256:$h{feed2} source=feed}m,
                '$upload_filter_result is shadow');
my $m = scrape();
like($m, qr/^upload_filter_matches_total\{source="feed",category="A1",kind="digest",action="shadow"\} 1$/m,
     'metrics count the shadow match by its action');
like($m, qr/^upload_filter_verdicts_total\{result="shadow"\} 1$/m,
     'metrics count a shadow verdict');
like(hashdb_ok('staged stats', 'stats', $db), qr/^feed\s.*\(staged 1\)$/m,
     'hashdb stats shows what is staged');
like(scalar(($t->hashdb('lookup', $db, $h{feed2}))[1]), qr/action=shadow/,
     'hashdb lookup says shadow');

# a staged delta adds another; a plain sync would make all live
$t->write_file('feed-3.csv', csv([$h{feed3}, 'A1']));
hashdb_ok('shadow apply', 'apply', $db, '--source', 'feed', '--unsigned',
          '--shadow', "$t->{dir}/feed-3.csv");
$t->expect(put('/up', $f{feed3}), 200, $f{feed3}, 'shadow apply: staged too');

like(hashdb_ok('promote', 'promote', $db, '--source', 'feed'),
     qr/^feed: 2 staged entries and videos promoted$/m, 'hashdb promote says how many');
$t->expect(put('/up', $f{feed2}), 403, undef, 'promoted: blocks');
$t->expect(put('/up', $f{feed3}), 403, undef, 'promoted: the delta\'s too');
like(hashdb_ok('policy after', 'policy', $db, '--source', 'feed'),
     qr/^staged: none$/m, 'nothing staged after promote');

# -- a PDQ entry under a policy --------------------------------------------

{
    my ($pdq) = map { (split /,/)[2] }
                grep { m{^images/bridge-mods/square-256x256\.jpg,} }
                split /\n/, $t->read_file("$UFTest::ROOT/t/data/formats/expected.csv");
    my $img = $t->read_file("$UFTest::ROOT/t/data/formats/images/bridge-mods/square-256x256.png");
    my ($rc2, $o2, $e2) = $t->hashdb('import', $db, '--source', 'images', '--unsigned',
                                     '--format', 'pdq', '-', \"$pdq,100,square\n");
    is($rc2, 0, 'a PDQ hash listed') or diag $e2;
    hashdb_ok('images log-only', 'policy', $db, '--source', 'images', '--action', 'log');
    $mark = length $t->error_log;
    $t->expect(put('/up', $img), 200, $img, 'a near copy of a log-only PDQ entry passes');
    like(log_since($mark), qr/match action=log digest=pdq:\S+ entry=pdq:$pdq distance=\d+ .*source="images"/,
         'and is logged with its entry and action=log');
    hashdb_ok('images block', 'policy', $db, '--source', 'images', '--action', 'block');
    $t->expect(put('/up', $img), 403, undef, 'the same source set to block: refused');
    $t->expect(put('/tenant/x', $img), 200, $img,
               'upload_filter_sources without it: the image passes');
}

# -- the flood alarm ------------------------------------------------------

$t->listed(source => 'main', category => 'A1', lines => [$h{flood}]);
$mark = length $t->error_log;
for my $n (2 .. 4) {
    $t->expect(put('/up', $f{flood}, "127.0.0.$n"), 403, undef,
               "flood: client $n of 3 blocked");
}
# the same client again is not another one
$t->expect(put('/up', $f{flood}, '127.0.0.4'), 403, undef, 'flood: a client again');
unlike(log_since($mark), qr/flood:/, 'three distinct clients: no alarm');

$t->expect(put('/up', $f{flood}, '127.0.0.5'), 200, $f{flood},
           'flood: the fourth distinct client passes (demoted)');
my $tail = log_since($mark);
like($tail, qr/\[warn\].*upload_filter: flood: entry=sha256:$h{flood} source="main" category="A1" matched more than 3 distinct clients within 60 s; demoted to log-only on this node until "hashdb flood-clear".*client: 127\.0\.0\.5/,
     'flood: a warn line names the entry, the threshold, the demotion');
like($tail, qr/match action=log flood=demoted digest=sha256:$h{flood}/,
     'flood: the match is logged as demoted');
$t->expect(put('/up', $f{flood}, '127.0.0.2'), 200, $f{flood},
           'flood: demoted for every client');
is(() = log_since($mark) =~ /upload_filter: flood: entry/g, 1,
   'flood: one warn line, not one per match');
$m = scrape();
like($m, qr/^upload_filter_flood_alarms_total 1$/m, 'metrics: one alarm');
like($m, qr/^upload_filter_flood_demoted 1$/m, 'metrics: one entry demoted now');
$t->expect(put('/up', $f{a1}, '127.0.0.6'), 403, undef, 'flood: other entries still block');

# a reload keeps the demotion
$t->reload_nginx;
$t->expect(put('/up', $f{flood}, '127.0.0.3'), 200, $f{flood}, 'flood: demotion kept by a reload');

($rc, $out, $err) = $t->hashdb('flood-clear', $db, 'not-an-entry');
is($rc, 2, 'flood-clear refuses what is no entry');
hashdb_ok('flood-clear', 'flood-clear', $db, 'SHA256:' . uc $h{flood});
$mark = length $t->error_log;
$t->expect(put('/up', $f{flood}, '127.0.0.2'), 403, undef, 'flood-clear: blocks again');
like(log_since($mark), qr/flood: entry=sha256:$h{flood} blocks again/, 'flood-clear: said in the log');
like(scrape(), qr/^upload_filter_flood_demoted 0$/m, 'metrics: none demoted now');

# --all lifts every demotion
for my $n (3 .. 6) {
    put('/up', $f{flood}, "127.0.0.$n");
}
$t->clear_records;
$t->expect(put('/up', $f{flood}, '127.0.0.7'), 200, $f{flood}, 'flood: demoted again');
hashdb_ok('flood-clear --all', 'flood-clear', $db, '--all');
$t->expect(put('/up', $f{flood}, '127.0.0.8'), 403, undef, 'flood-clear --all: blocks again');

$t->expect(put('/up', $f{clean}, '127.0.0.9'), 200, $f{clean}, 'clean traffic passes whole');

# -- configuration errors -------------------------------------------------

my ($nrc, $nout) = $t->nginx_test("    upload_filter_flood 3 each 1m;\n"
                                  . UFTest::proxy_server());
ok($nrc && $nout =~ /upload_filter_flood.*takes "off" or "N per TIME/, 'nginx -t: a bad flood line');
($nrc, $nout) = $t->nginx_test("    upload_filter_flood 3 per 1m action=stop;\n"
                               . UFTest::proxy_server());
ok($nrc && $nout =~ /invalid parameter "action=stop"/, 'nginx -t: a bad flood action');
($nrc, $nout) = $t->nginx_test(UFTest::proxy_server(location => 'upload_filter_sources bad/name;'));
ok($nrc && $nout =~ /invalid source name "bad\/name"/, 'nginx -t: a bad source name');
($nrc, $nout) = $t->nginx_test("    upload_filter_flood off;\n" . UFTest::proxy_server(
    location => 'upload_filter_sources all;'));
is($nrc, 0, 'nginx -t: flood off, sources all') or diag($nout);

$t->finish;
done_testing;
