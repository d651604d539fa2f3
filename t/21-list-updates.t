#!/usr/bin/perl
# hashdb sync and apply, the list formats, signed updates and replays,
# the allow list, disabled sources, map growth and write failures.

use strict;
use warnings;
use lib 't/lib';
use JSON::PP;
use Test::More;
use UFTest qw(sha256_hex sha1_hex md5_hex);

my $t = UFTest->new;
my $db = $t->db;
my ($rc, $out, $err);

sub listed {
    my ($hex) = @_;
    my ($rc, $out) = $t->hashdb('lookup', $db, $hex);
    return $rc == 0 ? $out : '';
}

sub stats {
    my ($rc, $out) = $t->hashdb('stats', '--json', $db);
    return decode_json($out);
}

sub source_stats {
    my ($name) = @_;
    my ($s) = grep { $_->{name} eq $name } @{ stats()->{sources} };
    return $s // {};
}

$t->hashdb('init', $db);
my @f = map { "file number $_\n" } 0 .. 9;

# --- formats ---------------------------------------------------------------

$t->write_file('typed.txt', "# Meta-style\nmd5 " . md5_hex($f[0]) . "\nSHA256 "
               . sha256_hex($f[1]) . "\nsha1\t" . sha1_hex($f[2]) . "\n");
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'typed', '--unsigned', $t->dir . '/typed.txt');
is($rc, 0, 'typed lines import') or diag $err;
ok(listed(md5_hex($f[0])) && listed(sha256_hex($f[1])) && listed(sha1_hex($f[2])),
   'typed: every type found');

$t->write_file('sigs.hdb', md5_hex($f[3]) . ":14:Stand.In.File-1\n");
$t->write_file('sigs.hsb', sha256_hex($f[4]) . ":*:Stand.In.File-2:73\n" . sha1_hex($f[5]) . ":14:X\n");
for my $file ('sigs.hdb', 'sigs.hsb') {
    ($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'clam', '--unsigned', $t->dir . "/$file");
    is($rc, 0, "ClamAV $file imports") or diag $err;
}
ok(listed(md5_hex($f[3])) && listed(sha256_hex($f[4])) && listed(sha1_hex($f[5])),
   'ClamAV: every signature found');

$t->write_file('list.csv', join "\n",
    'id,type,hash,category,added',
    "1,md5," . md5_hex($f[6]) . ",A1,2021-03-04",
    "1,sha1," . sha1_hex($f[6]) . ",A1,2021-03-04",
    "1,sha256," . sha256_hex($f[6]) . ",A1,2021-03-04",
    "2,sha256," . sha256_hex($f[7]) . ",\"B\",1600000000", '');
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'csv', '--unsigned', $t->dir . '/list.csv');
is($rc, 0, 'CSV with a header imports') or diag $err;
like($out, qr/2 rows, 4 entries added/, 'rows with the same id are one file');
like(listed(sha1_hex($f[6])), qr/source=csv category=A1 added=2021-03-04T00:00:00Z/,
     'category and added date from the CSV');
like(listed(sha256_hex($f[7])), qr/category=B added=2020-09-13T12:26:40Z/, 'unix time and a quoted field');
is_deeply(source_stats('csv')->{complete}, ['sha256'], 'id 2 has only SHA-256: that is the one type every row has');

$t->write_file('cols.csv', "md5,sha1,sha256\n" . join(',', md5_hex($f[8]), sha1_hex($f[8]), sha256_hex($f[8])) . "\n");
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'cols', '--unsigned', $t->dir . '/cols.csv');
is($rc, 0, 'CSV with md5,sha1,sha256 columns') or diag $err;
is_deeply(source_stats('cols')->{complete}, ['sha1', 'sha256', 'md5'], 'every row has all three types');

for my $bad (["typed", "sha256 " . md5_hex('x') . "\n", qr/:1: digest length does not match its type/],
             ["typed", "pdq " . ('ab' x 20) . "\n", qr/:1: a PDQ hash is 64 hex digits/],
             ["pdq", ('ab' x 32) . ",101\n", qr/:1: PDQ quality is not a number from 0 to 100/],
             ["clamav", md5_hex('x') . ":big:Name\n", qr/:1: ClamAV size is not a number/],
             ["csv", "name,size\nx,1\n", qr/:1: CSV header names no hash column/],
             ["csv", "type,hash\nmd5,zz\n", qr/:2: digest length/],
             ["hex", "- " . md5_hex('x') . "\n", qr/:1: a removal \('-'\) in a full list; use hashdb apply/]) {
    my ($fmt, $content, $re) = @$bad;
    $t->write_file('bad.txt', $content);
    ($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'bad', '--unsigned', '--format', $fmt, $t->dir . '/bad.txt');
    ok($rc == 2 && $err =~ $re, "bad $fmt line refused: $re") or diag $err;
}
is(source_stats('bad')->{name}, undef, 'refused lists left no source behind');

# --- PDQ hashes in lists -------------------------------------------------------

{
    my @p = map { unpack('H*', pack('N*', map { $_ * 2654435761 % 4294967296 } $_ .. $_ + 7)) } 1 .. 6;
    $t->write_file('p.typed', "pdq $p[0] 90\npdq $p[1]\nsha256 " . sha256_hex('pdq list file') . "\n");
    ($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'pdqs', '--unsigned', $t->dir . '/p.typed');
    is($rc, 0, 'typed: pdq lines, with and without quality') or diag $err;
    $t->write_file('p.csv', "type,hash,quality,category\npdq,$p[2],100,A1\npdq,$p[3],20,A1\n");
    ($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'pdqs', '--unsigned', $t->dir . '/p.csv');
    like($out, qr/1 PDQ hashes of quality below 50 skipped/, 'csv: type pdq and a quality column; the low one skipped');
    is(source_stats('pdqs')->{pdq}, 3, 'three PDQ hashes listed');
    ok(listed("pdq:$p[2]") =~ /category=A1/ && listed("pdq:$p[3]") eq '',
       'the good one with its category, not the low one');
    is(listed($p[0]), '', 'a PDQ hash is not a SHA-256');
    $t->write_file('p.full', "$p[0],100\n$p[4],100\n");
    ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'pdqs', '--unsigned', '--format', 'pdq',
                                   '--pdq-distance', '12', $t->dir . '/p.full');
    is(source_stats('pdqs')->{pdq}, 2, 'a full sync leaves its two PDQ hashes');
    ok(listed("pdq:$p[4]") ne '' && listed("pdq:$p[1]") eq '', 'the new one listed, the dropped one gone');
    is(source_stats('pdqs')->{pdq_distance}, 12, 'the source\'s own distance limit is kept');
}

# --- sync replaces only its source ------------------------------------------

my @a = map { sha256_hex("list A file $_") } 1 .. 50;
my @b = map { sha256_hex("list B file $_") } 1 .. 20;
$t->write_file('a1.txt', join("\n", @a[0 .. 39]) . "\n");
$t->write_file('b.txt', join("\n", @b) . "\n");
$t->hashdb('sync', $db, '--source', 'A', '--unsigned', $t->dir . '/a1.txt');
$t->hashdb('sync', $db, '--source', 'B', '--unsigned', $t->dir . '/b.txt');
is(source_stats('A')->{sha256}, 40, 'sync of A: 40 entries');
# also B lists a digest of A: it must stay B's after A drops it
$t->write_file('b2.txt', join("\n", @b, $a[0]) . "\n");
$t->hashdb('sync', $db, '--source', 'B', '--unsigned', $t->dir . '/b2.txt');

# drop a run of entries, every other one, the first and last; add new ones
my @keep = (@a[1 .. 9], @a[12 .. 20], $a[22], $a[24], $a[26], @a[40 .. 49]);
$t->write_file('a2.txt', join("\n", @keep) . "\n");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'A', '--unsigned', $t->dir . '/a2.txt');
is($rc, 0, 'second sync of A') or diag $err;
like($out, qr/A: sync of \S+: 31 rows, 10 entries added, 19 removed, 21 already listed/, 'sync reports added and removed');
is(source_stats('A')->{sha256}, 31, 'A holds exactly the new list');
my %keep = map { $_ => 1 } @keep;
my @wrong = grep { (listed($_) =~ /source=A/ ? 1 : 0) != ($keep{$_} ? 1 : 0) } @a;
is(scalar @wrong, 0, 'every digest of A is listed exactly when the new list has it');
like(listed($a[0]), qr/source=B/, 'a digest dropped by A stays listed by B');
is(source_stats('B')->{sha256}, 21, 'B untouched by the sync of A');

# a bad line in a sync changes nothing
$t->write_file('a3.txt', "$a[0]\nnot-a-digest\n");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'A', '--unsigned', $t->dir . '/a3.txt');
ok($rc == 2 && $err =~ /a3\.txt:2: .*nothing applied/, 'a sync with a bad line is refused');
is(source_stats('A')->{sha256}, 31, 'and A is as it was');

# --- apply: adds and removals ----------------------------------------------

$t->write_file('delta.txt', "+ " . sha256_hex('delta new') . "\n-$keep[0]\n" . sha256_hex('delta new 2') . "\n- " . sha256_hex('never listed') . "\n");
($rc, $out, $err) = $t->hashdb('apply', $db, '--source', 'A', '--unsigned', $t->dir . '/delta.txt');
is($rc, 0, 'apply a delta') or diag $err;
like($out, qr/2 entries added, 1 removed/, 'delta: two added, one removed');
ok(listed(sha256_hex('delta new')) && !listed($keep[0]), 'delta: the added is listed, the removed is not');
$t->write_file('delta.csv', "op,sha256\nremove," . sha256_hex('delta new') . "\nadd," . sha256_hex('delta csv') . "\n");
($rc, $out, $err) = $t->hashdb('apply', $db, '--source', 'A', '--unsigned', $t->dir . '/delta.csv');
ok($rc == 0 && !listed(sha256_hex('delta new')) && listed(sha256_hex('delta csv')), 'a CSV delta with an op column');

# --- signatures ------------------------------------------------------------

my $k = $t->dir;
($rc, $out, $err) = $t->hashdb('keygen', '--secret', "$k/sk.pem", '--public', "$k/pk.pem");
is($rc, 0, 'keygen');
is((stat "$k/sk.pem")[2] & 07777, 0600, 'the secret key is 0600');
$t->hashdb('keygen', '--secret', "$k/other-sk.pem", '--public', "$k/other-pk.pem");

my @s = map { sha256_hex("signed list file $_") } 1 .. 5;
$t->write_file('s.txt', join("\n", @s[0 .. 2]) . "\n");
($rc, $out, $err) = $t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'signed', '--seq', 10, "$k/s.txt");
is($rc, 0, 'sign a list') or diag $err;
like($t->read_file('s.txt.sig'), qr/^upload-filter signature v1\nsource: signed\nkind: full\nseq: 10\n/, 'the signature file');

($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 2 && $err =~ /no key is trusted for source "signed"/, 'no trusted key: refused');
($rc) = $t->hashdb('trust', $db, '--source', 'signed', "$k/pk.pem");
is($rc, 0, 'trust a key');
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
is($rc, 0, 'a signed sync with a trusted key') or diag $err;
like($out, qr/signature good\nsigned: sequence 10/, 'says the signature is good and the sequence');
is(source_stats('signed')->{seq}, 10, 'stats show the sequence');

# tampered list
$t->write_file('s.txt', join("\n", @s[0 .. 3]) . "\n");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 2 && $err =~ /signature is for other content/, 'a changed list is refused');
ok(!listed($s[3]), 'nothing of it applied');

# forged signature: right digest, signature bytes changed
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'signed', '--seq', 11, "$k/s.txt");
(my $forged = $t->read_file('s.txt.sig')) =~ s/(signature: )(.)/$1 . ($2 eq '0' ? '1' : '0')/e;
$t->write_file('s.txt.sig', $forged);
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 2 && $err =~ /BAD SIGNATURE/, 'a bad signature is refused');

# signed with another key
$t->hashdb('sign', '--key', "$k/other-sk.pem", '--source', 'signed', '--seq', 11, "$k/s.txt");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 2 && $err =~ /not trusted for source "signed"/, 'an untrusted key is refused');

# signed for another source, or as another kind
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'other', '--seq', 11, "$k/s.txt");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 2 && $err =~ /signed for source "other"/, 'a list signed for another source is refused');
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'signed', '--seq', 11, '--kind', 'delta', "$k/s.txt");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 2 && $err =~ /signed as a delta list/, 'a delta cannot be used as a full list');
ok(!listed($s[3]), 'none of the refused lists applied');

# newer sequence applies; replays of it and of older lists do not
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'signed', '--seq', 11, "$k/s.txt");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 0 && listed($s[3]), 'sequence 11 applies');
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/s.txt");
ok($rc == 2 && $err =~ /sequence 11 is not newer than 11.*replayed/, 'the same list again is refused');
$t->write_file('old.txt', join("\n", @s[0 .. 2]) . "\n");
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'signed', '--seq', 10, "$k/old.txt");
($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'signed', "$k/old.txt");
ok($rc == 2 && $err =~ /sequence 10 is not newer than 11/, 'an older list is refused');
ok(listed($s[3]), 'the set did not roll back');

# signed delta
$t->write_file('sd.txt', "+$s[4]\n-$s[0]\n");
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'signed', '--seq', 12, '--kind', 'delta', "$k/sd.txt");
($rc, $out, $err) = $t->hashdb('apply', $db, '--source', 'signed', "$k/sd.txt");
ok($rc == 0 && listed($s[4]) && !listed($s[0]), 'a signed delta applies') or diag $err;

# --- allow list and disabled sources ---------------------------------------

($rc) = $t->hashdb('allow', $db, $s[1], '--reason', 'default WordPress image, false positive');
is($rc, 0, 'allow a digest');
like(listed($s[1]), qr/allowed: default WordPress image, false positive/, 'lookup shows it allowed');
($rc, $out) = $t->hashdb('allowed', $db);
like($out, qr/^sha256:$s[1]\t\S+\tdefault WordPress image/m, 'allowed lists it');
$t->write_file('s2.txt', join("\n", @s[1 .. 4]) . "\n");
$t->hashdb('sign', '--key', "$k/sk.pem", '--source', 'signed', '--seq', 13, "$k/s2.txt");
$t->hashdb('sync', $db, '--source', 'signed', "$k/s2.txt");
like(listed($s[1]), qr/allowed:/, 'the allow list survives a sync');
($rc) = $t->hashdb('unallow', $db, $s[1]);
unlike(listed($s[1]), qr/allowed:/, 'unallow');
($rc, $out, $err) = $t->hashdb('unallow', $db, $s[1]);
ok($rc == 2 && $err =~ /not on the allow list/, 'unallow of a digest not allowed: exit 2');

($rc) = $t->hashdb('disable', $db, '--source', 'signed');
is($rc, 0, 'disable a source');
ok(!listed($s[2]), 'a disabled source matches nothing');
is(source_stats('signed')->{disabled}, JSON::PP::true, 'stats say disabled');
is(source_stats('signed')->{sha256}, 4, 'its entries are kept');
$t->hashdb('enable', $db, '--source', 'signed');
ok(listed($s[2]), 'enabled again');
($rc, $out, $err) = $t->hashdb('disable', $db, '--source', 'nosuch');
ok($rc == 2 && $err =~ /no source "nosuch"/, 'disable of an unknown source: exit 2');

# --- the map grows; write failures leave the set as it was ------------------

my $small = $t->dir . '/small';
$t->hashdb('init', '--map-size', '1M', $small);
my $lines = join '', map { sha256_hex("grow $_") . "\n" } 1 .. 30_000;
($rc, $out, $err) = $t->hashdb('import', $small, '--source', 'g', '--unsigned', '-', \$lines);
is($rc, 0, 'an import larger than the initial 1 MiB map succeeds') or diag $err;
my $js = decode_json(($t->hashdb('stats', '--json', $small))[1]);
ok($js->{map_size} > (1 << 20), "the map grew (now $js->{map_size} bytes)");
is($js->{sources}[0]{sha256}, 30_000, 'with every entry');
my $free_before = $js->{free};
my $kept = join '', map { sha256_hex("grow $_") . "\n" } 1 .. 15_000;
($rc, $out, $err) = $t->hashdb('sync', $small, '--source', 'g', '--unsigned', '--allow-shrink',
                               '-', \$kept);
is($rc, 0, 'a sync that drops half of it') or diag $err;
$js = decode_json(($t->hashdb('stats', '--json', $small))[1]);
ok($js->{free} > $free_before && $js->{free} < $js->{in_use},
   "stats count the pages it freed ($free_before, then $js->{free} of $js->{in_use} bytes)");
like(($t->hashdb('stats', $small))[1], qr/^free: +$js->{free} of them free pages, which later writes reuse$/m,
     'and say so');

SKIP: {
    skip 'needs root and runuser', 2 unless $> == 0 && -x '/usr/sbin/runuser';
    my $line = sha256_hex('perm') . "\n";
    $t->write_file('perm.txt', $line);
    chmod 0644, $t->dir . '/perm.txt';
    my $res = `runuser -u nobody -- $UFTest::BUILD/hashdb import $db --source p --unsigned ${\ $t->dir}/perm.txt 2>&1`;
    ok($? >> 8 == 2 && $res =~ /Permission denied/, 'no permission: a clear error') or diag $res;
    ok(!listed(sha256_hex('perm')), 'and nothing applied');
}

{
    # a full disk, as a file size limit: the commit fails, the set stays
    my $before = source_stats('A')->{sha256};
    my $big = join '', map { sha256_hex("disk full $_") . "\n" } 1 .. 20_000;
    $t->write_file('big.txt', $big);
    my $size = -s "$db/data.mdb";
    my $res = `sh -c 'trap "" XFSZ; ulimit -f ${\ int($size / 1024 + 8)}; exec $UFTest::BUILD/hashdb import $db --source A --unsigned ${\ $t->dir}/big.txt' 2>&1`;
    ok($? >> 8 == 2 && $res =~ /(File too large|No space left on device|Input\/output error); nothing applied/, 'a write that cannot grow the file: a clear error') or diag $res;
    is(source_stats('A')->{sha256}, $before, 'and the set is as it was');
    ok(!listed(sha256_hex('disk full 1')), 'nothing of it is listed');
}

# on a terminal: progress once a second, with the share read and an ETA
SKIP: {
    skip 'no script(1)', 2 unless -x '/usr/bin/script';
    my $big = $t->dir . '/progress.txt';
    open my $f, '>', $big or die;
    printf $f "%064x\n", $_ for 1 .. 2_000_000;
    close $f;
    my $tty = `script -qec '$UFTest::BUILD/hashdb import $db --source progress --unsigned $big' /dev/null`;
    like($tty, qr/\rhashdb: (checking|applying): \d+ lines, \d+ %, ETA \d+ s/,
         'import on a terminal: lines, share done and ETA');
    like($tty, qr/\rhashdb: applying: 2000000 lines\r?\n/, 'then the total');
}

# a UTF-8 byte order mark before the header (a spreadsheet's export)
{
    my $csv = "\xef\xbb\xbftype,hash\nsha256," . sha256_hex('bom listed') . "\n";
    my ($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'bom', '--unsigned', '-', \$csv);
    is($rc, 0, 'a csv list with a byte order mark imports') or diag $err;
    ok(listed(sha256_hex('bom listed')), 'and its row is listed');
}

# a sync that would empty a source, or drop more than half of it, is a
# truncated download or a publisher's mistake until said otherwise
{
    my $list = join '', map { sha256_hex("shrink $_") . "\n" } 1 .. 10;
    my ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'shrink', '--unsigned', '-', \$list);
    is($rc, 0, 'a source of 10');
    ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'shrink', '--unsigned', '-',
                                   \"# nothing today\n");
    is($rc, 2, 'a comment-only list is refused');
    like($err, qr/the list is empty: a sync would remove all 10 entries of source "shrink" \(--allow-shrink if that is meant\); nothing applied/,
         'and says why');
    ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'shrink', '--unsigned', '-',
                                   \(join '', (split /(?<=\n)/, $list)[0 .. 3]));
    is($rc, 2, 'a list of 4 for a source of 10 is refused');
    like($err, qr/4 rows, and source "shrink" lists 10 files: a sync would remove more than half/, 'and says so');
    is(source_stats('shrink')->{sha256}, 10, 'the source is as it was');
    ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'shrink', '--unsigned', '--allow-shrink',
                                   '-', \(join '', (split /(?<=\n)/, $list)[0 .. 3]));
    is($rc, 0, '--allow-shrink: applied');
    is(source_stats('shrink')->{sha256}, 4, 'four left');
    ($rc, $out, $err) = $t->hashdb('sync', $db, '--source', 'shrink', '--unsigned', '-',
                                   \(join '', (split /(?<=\n)/, $list)[0 .. 1]));
    is($rc, 0, 'half of the source: a day of churn, applied');
}

$t->finish;
done_testing;
