#!/usr/bin/perl
# The hashdb command: init, import, lookup, stats, hash, --help, exit codes.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex sha1_hex md5_hex);

my $t = UFTest->new;
my $db = $t->db;
my ($rc, $out, $err);

($rc, $out, $err) = $t->hashdb('--help');
is($rc, 0, 'hashdb --help exits 0');
like($out, qr/usage: hashdb COMMAND/, 'and prints the usage');
($rc, $out) = $t->hashdb('--version');
is($rc, 0, 'hashdb --version exits 0');
like($out, qr/^hashdb \d+\.\d+\.\d+ \(upload-filter\), LMDB \d+\.\d+\.\d+.*\njpeg +libjpeg-turbo.*\nmp4 +FFmpeg/s,
     'and names the release, LMDB and the decoders');
for my $cmd (qw(init upgrade import sync apply lookup stats hash allow unallow allowed disable enable no-stills stills trust keygen sign scan rescan)) {
    ($rc, $out) = $t->hashdb($cmd, '--help');
    ok($rc == 0 && $out =~ /^usage: hashdb (\S+)/ && $out =~ /hashdb $cmd/, "hashdb $cmd --help");
}
# a usage error says what is wrong, in one line, before the usage
for my $case ([['sync', $db, 'list.txt'], qr/^hashdb sync: --source NAME is missing\n\nusage: hashdb sync/],
              [['sync', '--frob', $db], qr/^hashdb sync: unknown option --frob\n\nusage:/],
              [['import', $db, '--source'], qr/^hashdb import: option --source needs a value\n/],
              [['import', '--source', 'x', $db], qr/^hashdb import: no LIST given\n/],
              [['hash', '-q', 'x'], qr/^hashdb hash: unknown option -q\n/],
              [['hash'], qr/^hashdb hash: no FILE given\n/],
              [['scan', $db], qr/^hashdb scan: no PATH given \(or --files-from\)\n/],
              [['init'], qr/^hashdb init: no DB given\n/],
              [['allow', $db, 'a' x 64], qr/^hashdb allow: --reason TEXT is missing: say why\n/],
              [['keygen', '--secret', 'x'], qr/^hashdb keygen: --public FILE is missing\n/],
              [['disable', $db], qr/^hashdb disable: --source NAME is missing\n/]) {
    ($rc, $out, $err) = $t->hashdb(@{ $case->[0] });
    ok($rc == 2 && $err =~ $case->[1], "usage error: hashdb @{ $case->[0] }") or diag $err;
}

($rc, $out, $err) = $t->hashdb('frobnicate');
ok($rc == 2 && $err =~ /unknown command "frobnicate"/, 'an unknown command: exit 2');

($rc, $out, $err) = $t->hashdb('lookup', "$db-missing", 'a' x 64);
ok($rc == 2 && $err =~ /hashset-missing: No such file or directory/,
   'lookup on a missing hash set: exit 2, says why');

($rc) = $t->hashdb('init', $db);
is($rc, 0, 'init');
ok(!((stat "$db/data.mdb")[2] & 07), 'data.mdb is not world-readable');
ok(!((stat $db)[2] & 07), 'the hash set directory is not world-accessible');
($rc) = $t->hashdb('init', $db);
is($rc, 0, 'init on an existing hash set changes nothing');

my @files = map { "stand-in file $_\n" } 1 .. 5;
my $list = "# a comment line\n\n"
    . sha256_hex($files[0]) . "\n"
    . uc(sha1_hex($files[1])) . "   # upper case, trailing comment\n"
    . md5_hex($files[2]) . "\r\n"
    . join(',', md5_hex($files[3]), sha1_hex($files[3]), sha256_hex($files[3])) . "\n";
$t->write_file('list.txt', $list);

($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'police-test',
                               '--category', 'A1', $t->dir . '/list.txt');
ok($rc == 2 && $err =~ /list\.txt: no signature \(.*list\.txt\.sig\); sign the list, or apply it with --unsigned/,
   'an unsigned list needs --unsigned');
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'police-test', '--unsigned',
                               '--category', 'A1', $t->dir . '/list.txt');
is($rc, 0, 'import a list');
like($out, qr/police-test: import of \S+list\.txt: 4 rows, 6 entries added, 0 removed, 0 already listed/, 'import reports rows and entries');

($rc, $out) = $t->hashdb('lookup', $db, sha256_hex($files[0]));
is($rc, 0, 'lookup of a listed digest: exit 0');
like($out, qr/^sha256:\Q${\ sha256_hex($files[0])}\E\tlisted\tsource=police-test category=A1 added=\d{4}-\d\d-\d\dT/,
     'lookup names source, category and date');
($rc, $out) = $t->hashdb('lookup', $db, sha1_hex($files[1]), md5_hex($files[4]));
is($rc, 0, 'lookup of one listed and one unlisted: exit 0');
like($out, qr/sha1:\S+\tlisted.*\nmd5:\S+\tnot listed/, 'each digest on its line');
($rc, $out) = $t->hashdb('lookup', $db, md5_hex($files[4]));
is($rc, 1, 'lookup of an unlisted digest: exit 1');
($rc, $out, $err) = $t->hashdb('lookup', $db, 'xyz');
ok($rc == 2 && $err =~ /xyz: not a hex/, 'lookup of a non-digest: exit 2');

# a bad line refuses the whole import
$t->write_file('bad.txt', sha256_hex('new file 1') . "\n"
                          . sha256_hex('new file 2') . "\n"
                          . "0123456789abcdef\n"
                          . sha256_hex('new file 3') . "\n");
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'police-test', '--unsigned',
                               $t->dir . '/bad.txt');
is($rc, 2, 'an import with a bad line: exit 2');
like($err, qr{bad\.txt:3: not a hex MD5 \(32\), SHA-1 \(40\) or SHA-256 \(64\) digest; nothing applied},
     'names file, line and reason');
($rc) = $t->hashdb('lookup', $db, sha256_hex('new file 1'));
is($rc, 1, 'the good lines before it were not applied');

($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'x', '--unsigned', '-',
                               \(sha1_hex('a') . ' ' . sha1_hex('b') . "\n"));
ok($rc == 2 && $err =~ /\(stdin\):1: two digests of the same type for one file/,
   'two digests of one type on a line are refused');
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'bad name', '--unsigned', '-', \"");
ok($rc == 2 && $err =~ /bad name/, 'a bad source name is refused');
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'x', '--unsigned', '--category', 'much-too-long', '-', \"");
ok($rc == 2 && $err =~ /--category much-too-long/, 'a long category is refused');
($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'x', '--unsigned', $t->dir . '/nonexistent');
ok($rc == 2 && $err =~ /nonexistent: No such file/, 'a missing list file: exit 2');

# stdin, and re-importing is idempotent
($rc, $out) = $t->hashdb('import', $db, '--source', 'second', '--unsigned', '-',
                         \(sha256_hex($files[0]) . "\n" . sha256_hex($files[4]) . "\n"));
like($out, qr/second: import of \(stdin\): 2 rows, 2 entries added, 0 removed, 0 already/, 'import from stdin');
($rc, $out) = $t->hashdb('import', $db, '--source', 'second', '--unsigned', '-',
                         \(sha256_hex($files[4]) . "\n"));
like($out, qr/second: import of \(stdin\): 1 rows, 0 entries added, 0 removed, 1 already listed/, 'a re-import adds nothing');

($rc, $out) = $t->hashdb('stats', $db);
is($rc, 0, 'stats');
like($out, qr/^computes:\s+sha1,sha256,md5/m, 'stats says which digests are computed');
like($out, qr/^police-test\s+4\s+2\s+2\s+2\s+\S+/m, 'per source: files and entries per type');
like($out, qr/^second\s+2\s+0\s+0\s+2/m, 'the second source');

# hash prints what sha256sum and friends print
my $f = $t->write_file('sample.bin', join '', map { chr } 0 .. 255);
($rc, $out) = $t->hashdb('hash', $f);
my $content = $t->read_file($f);
is($out, "sha1:" . sha1_hex($content) . "  $f\nsha256:" . sha256_hex($content)
         . "  $f\nmd5:" . md5_hex($content) . "  $f\n", 'hash prints all three digests');
my $only = UFTest->new;
$only->listed(lines => [sha256_hex('x')]);
($rc, $out) = $t->hashdb('hash', '--db', $only->db, $f);
is($out, "sha256:" . sha256_hex($content) . "  $f\nsha256: not listed  $f\n",
   'hash --db prints what the module computes, and that it is not listed');
my $lf = $t->write_file('listed.bin', 'x');
($rc, $out) = $t->hashdb('hash', '--db', $only->db, $lf);
like($out, qr/^sha256: listed sha256:${\ sha256_hex('x')}  \Q$lf\E  source=test-list category=-$/m,
     'and says "listed" for a listed digest, as for PDQ');
($rc, $out, $err) = $t->hashdb('hash', $t->dir . '/none');
ok($rc == 2 && $err =~ /none: No such file/, 'hash of a missing file: exit 2');

# PDQ of a JPEG, told by content: --exact as the reference computes it,
# by default as the module does (the fast path, a few bits off)
my $jpg = "$UFTest::ROOT/t/data/pdq-vectors/images/dih--bridge-1-original.jpg";
my $ref = 'd8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22';
($rc, $out) = $t->hashdb('hash', '--exact', $jpg);
like($out, qr/^pdq:$ref  \Q$jpg\E  quality=100$/m,
     'hash --exact prints the reference\'s PDQ hash and quality of a JPEG');
($rc, $out) = $t->hashdb('hash', $jpg);
my ($fast) = $out =~ /^pdq:([0-9a-f]{64})  /m;
my $bits = unpack('%32b*', pack('H*', $fast) ^ pack('H*', $ref));
ok(defined $fast && $bits <= 10, "hash: the fast path, $bits bits from it");
($rc, $out) = $t->hashdb('hash', '--exact', '--variants', $jpg);
like($out, qr/^pdq:f0a10efd51c83d429053d48d0fffbc52e34e0e17ada956a9d29685211ea9e58f  \S+  quality=\d+ variant=rot90$/m,
     'and with --variants the rotations and flips');
is(scalar(() = $out =~ /^pdq/mg), 8, 'all 8 of them');
my $copy = $t->write_file('not-a-jpeg.bin', $t->read_file($jpg));
substr(my $x = $t->read_file($jpg), 0, 1) = 'X';
my $nj = $t->write_file('renamed.jpg', $x);
($rc, $out) = $t->hashdb('hash', $nj);
unlike($out, qr/^pdq/m, 'a .jpg name without JPEG content gets no PDQ hash');
($rc, $out) = $t->hashdb('hash', '--exact', $copy);
like($out, qr/^pdq:d8f8f0ce/m, 'JPEG content under another name does');

# --db: the nearest listed PDQ hash over the 8 variants
my $pdqset = UFTest->new;
$pdqset->hashdb('init', $pdqset->db);
$pdqset->hashdb('import', $pdqset->db, '--source', 'p', '--unsigned',
                '--format', 'pdq', '-', \"$ref,100\n");
my $rot = "$UFTest::ROOT/t/data/pdq-vectors/images/dih--bridge-2-rotate-90.jpg";
($rc, $out) = $t->hashdb('hash', '--db', $pdqset->db, $rot);
like($out, qr/^pdq: listed pdq:$ref  \Q$rot\E  source=p category=- distance=\d+ variant=rot270$/m,
     'hash --db finds the listed original of a rotated copy');
($rc, $out) = $t->hashdb('hash', '--db', $pdqset->db, '--distance', '0', $rot);
like($out, qr/^pdq: no listed hash within 0/m, '--distance 0: not within it');
($rc, $out) = $t->hashdb('lookup', $pdqset->db, "pdq:$ref");
ok($rc == 0 && $out =~ /^pdq:$ref\tlisted\tsource=p .* entry=pdq:$ref distance=0 variant=as-is$/m,
   'lookup pdq:HEX finds a listed PDQ hash');
(my $near = $ref) =~ s/^d8/d9/;
($rc, $out) = $t->hashdb('lookup', $pdqset->db, "pdq:$near");
ok($rc == 0 && $out =~ /distance=1 /, 'and one a bit away, with its distance');
($rc, $out) = $t->hashdb('lookup', $pdqset->db, $ref);
is($rc, 1, 'the same 64 digits without pdq: are a SHA-256, not listed');
$pdqset->finish;
my $trunc = $t->write_file('trunc.jpg', substr($t->read_file($jpg), 0, 100));
($rc, $out, $err) = $t->hashdb('hash', $trunc);
ok($rc == 2 && $err =~ /trunc\.jpg: no PDQ hash: /, 'a broken JPEG: the digests, and a clear error for PDQ');

$t->finish;
$only->finish;
done_testing;
