#!/usr/bin/perl
# The upload ledger end to end: nginx writes $upload_filter_hashes into
# two access logs (a plain log_format and one with escape=json); clean
# uploads pass (raw, multipart with names that need escaping, an image);
# after a later list names one of the files and the image's photo,
# "hashdb rescan" finds those uploads in both logs (and in a gzipped
# rotated one) with their log lines, and nothing else; exit 0 / 1 / 2.

use strict;
use warnings;
use lib 't/lib';
use Compress::Zlib qw(memGzip);
use JSON::PP;
use Test::More;
use UFTest qw(multipart sha1_hex sha256_hex);

my $t = UFTest->new;
my $dir = $t->dir;
my $data = "$UFTest::ROOT/t/data/formats";

my $doc = "a document, later listed\n" x 20;
my $other = "another document, never listed\n" x 20;
my $photo = $t->read_file("$data/images/bridge-mods/square-256x256.q80.webp");
my ($pdq) = map { (split /,/)[2] } grep { m{^images/bridge-mods/square-256x256\.jpg,} }
            split /\n/, $t->read_file("$data/expected.csv");

# the set starts with something unrelated in each kind, so that the
# module computes SHA-1 and PDQ for every upload
$t->listed(source => 'old', lines => [sha1_hex('unrelated')]);
$t->listed(source => 'old-pdq', format => 'pdq',
           lines => [('f' x 16) . ('0' x 16) . ('f' x 16) . ('0' x 16) . ',100']);

$t->start_upstream;
$t->start_nginx(<<'EOF2' . UFTest::proxy_server(server => 'client_max_body_size 10m;'));
    log_format ledger '$remote_addr [$time_local] "$request" $status '
                      'id=$request_id hashes=$upload_filter_hashes';
    log_format ledger_json escape=json '{"time":"$time_iso8601","client":"$remote_addr",'
                                       '"host":"$host","uri":"$request_uri",'
                                       '"id":"$request_id","hashes":"$upload_filter_hashes"}';
    access_log %%DIR%%/ledger.log ledger;
    access_log %%DIR%%/ledger.json ledger_json;
EOF2

my $b = 'ledgerB0undary';
my $form = multipart($b, ['title', undef, 'holiday'],
                     ['file', "my report \xc3\xa9.txt", $doc],
                     ['pic', 'p.webp', $photo]);
is(UFTest::status($t->request('PUT', '/up/other.txt', $other)), 200, 'a clean raw upload passes');
is(UFTest::status($t->request('POST', '/up/form', $form,
                              'Content-Type' => "multipart/form-data; boundary=$b")),
   200, 'a clean multipart upload with a document and a photo passes');
is(UFTest::status($t->request('GET', '/up/nothing')), 200, 'a GET: nothing hashed');

# an urlencoded field whose name (the client's) holds a newline and a quote
my $value = "a long form value, later listed " x 3;
(my $pct = $value) =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
is(UFTest::status($t->request('POST', '/up/form2', "note%0A%22x=$pct",
                              'Content-Type' => 'application/x-www-form-urlencoded')),
   200, 'a clean form');

ok($t->wait_file('ledger.json', qr/"uri":"\/up\/form2"/), 'both logs written');
my $plain = $t->read_file('ledger.log');
like($plain, qr{PUT /up/other\.txt .* hashes=ufh1:part=body,size=\d+,sha1=${\ sha1_hex($other)}}m,
     'the plain log: the raw body\'s SHA-1');
like($plain, qr{hashes=ufh1:\S*part=2,size=\d+,name=file,filename=my%20report%20%C3%A9\.txt,sha1=${\ sha1_hex($doc)}},
     'a part: its index, size, percent-encoded names, digest');
like($plain, qr{part=3,size=\d+,name=pic,filename=p\.webp,sha1=\w+,pdq=[0-9a-f]{64}}, 'an image: its PDQ hash too');
like($plain, qr{"GET /up/nothing HTTP/1\.1" 200 id=\w+ hashes=-$}m, 'nothing hashed: "-"');
my @json = map { decode_json($_) } split /\n/, $t->read_file('ledger.json');
is(scalar @json, 4, 'the JSON log is valid JSON, line by line');
like($json[1]{hashes}, qr/^ufh1:part=1,.*;part=2,/, 'with the same token, unchanged by escape=json');

# nothing listed yet
my ($rc, $out, $err) = $t->hashdb('rescan', $t->db, "$dir/ledger.log");
is($rc, 0, 'rescan before the list names them: exit 0');
like($err, qr/hashdb rescan: 4 lines, 6 uploaded objects, 0 listed, 0 errors/, 'the summary (the form: its body and its field)');

# the daily list now names the document and the photo
$t->listed(source => 'police', category => 'A1', lines => [sha1_hex($doc), sha1_hex($value)]);
$t->listed(source => 'police-pdq', format => 'pdq', lines => ["$pdq,100,photo"]);

# a rotated log, gzipped
$t->write_file('ledger.log.1.gz', memGzip($plain));

($rc, $out, $err) = $t->hashdb('rescan', $t->db, "$dir/ledger.log", "$dir/ledger.json",
                               "$dir/ledger.log.1.gz");
is($rc, 1, 'after the sync: exit 1');
my @lines = split /\n/, $out;
is(scalar @lines, 9, 'the document, the photo and the form value, in each of the three logs');
like($out, qr{^\Q$dir\E/ledger\.log:4: part=form\.1 size=\d+ name="note\\x0a\\x22x" sha1:${\ sha1_hex($value)} source=police }m,
     'a client\'s name is escaped: the report line stays one line');
like($out, qr{^\Q$dir\E/ledger\.log:2: part=2 size=\d+ name="file" filename="my report \x{c3}\x{a9}\.txt" sha1:${\ sha1_hex($doc)} source=police category=A1 listed=\S+ \| 127\.0\.0\.1 .*"POST /up/form HTTP/1\.1" 200 id=\w+ hashes=ufh1:}m,
     'the document: log, line, part, names, digest, source, and the log line');
like($out, qr{^\Q$dir\E/ledger\.log\.1\.gz:2: part=3 .* pdq:\w+ entry=pdq:$pdq distance=\d+ source=police-pdq }m,
     'the photo by PDQ, from the gzipped log');
unlike($out, qr/other\.txt/, 'the never-listed upload is not reported');

($rc, $out) = $t->hashdb('rescan', '--json', $t->db, "$dir/ledger.json");
my @r = map { decode_json($_) } split /\n/, $out;
is(scalar @r, 3, '--json: three findings, each a JSON object');
my ($f) = grep { $_->{part} eq 'form.1' } @r;
is($f->{name}, "note\n\"x", 'in JSON the name is the name, escaped as JSON');
is_deeply([$r[0]{fields}{uri}, $r[0]{part}, $r[0]{name}, $r[0]{match}, $r[0]{source}],
          ['/up/form', '2', 'file', 'sha1:' . sha1_hex($doc), 'police'],
          'with the line\'s own fields (the request, its id), the part and the entry');
ok($r[0]{fields}{id} && $r[0]{fields}{client} eq '127.0.0.1', 'request id and client for the report');

# a gzipped log cut short: what could be read is read, the cut is an error
$t->write_file('cut.log.gz', substr(memGzip("nothing here\n" x 1000), 0, 40));
($rc, $out, $err) = $t->hashdb('rescan', $t->db, "$dir/cut.log.gz");
is($rc, 2, 'a truncated gzipped log: exit 2');
like($err, qr{^hashdb: \Q$dir\E/cut\.log\.gz: unexpected end of file$}m, 'named once, with zlib\'s reason');

($rc, $out, $err) = $t->hashdb('rescan', $t->db, "$dir/missing.log");
is($rc, 2, 'a log that cannot be read: exit 2');
like($err, qr/missing\.log: No such file or directory/, 'named with the reason');

$t->finish;
done_testing;
