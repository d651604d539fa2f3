#!/usr/bin/perl
# A hash set made by the release before (schema 2): nginx -t and the
# writing commands refuse it and say what to run, "hashdb upgrade"
# rebuilds its PDQ index in place, and nginx then blocks a near copy of a
# listed image with it.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest;

my $t = UFTest->new;
$t->{timeout} = 30;
my $dir = $t->dir;
my $db = $t->db;
my $img = "$UFTest::ROOT/t/data/pdq-vectors/images";
my $orig = "$img/bridge-mods--aaa-orig.jpg";
my $listed = $t->pdq_hash('--exact', $orig);
my $resized = $t->jpeg_transform($orig, 'resized.jpg', 'resize', 50, 70);

$t->hashdb('init', $db);
my ($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'pdq-test',
                                  '--unsigned', '--format', 'pdq', '-',
                                  \"$listed,100,bridge\n");
is($rc, 0, 'a PDQ hash imported');

# what the release before left: its schema number (the index it had is
# rebuilt whatever it holds: the unit test plants old-format blocks)
sub set_schema {
    my ($v) = @_;
    open(my $load, '|-', 'mdb_load', '-T', '-s', 'meta', $db) or die $!;
    printf $load "schema\n\\%02x\\00\\00\\00\n", $v;
    close $load or die "mdb_load: $?";
}
set_schema(2);

my $server = <<'EOF2';
    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 10m;
        location / {
            upload_filter on;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }
    }
EOF2

($rc, $out) = $t->nginx_test($server);
isnt($rc, 0, 'nginx -t refuses a set of the older schema');
like($out, qr/\[emerg\] upload_filter_db "[^"]*": a hash set of an older release's schema \(run "hashdb upgrade DB", then reload nginx\)/,
     "and says what to run") or diag $out;

($rc, $out, $err) = $t->hashdb('import', $db, '--source', 'other',
                               '--unsigned', '--format', 'pdq', '-',
                               \"$listed,100,bridge\n");
ok($rc == 2 && $err =~ /older release's schema \(run "hashdb upgrade DB"/,
   'so does a writing command, leaving the set as it was') or diag $err;
($rc, $out, $err) = $t->hashdb('lookup', $db, "pdq:$listed");
ok($rc == 2 && $err =~ /older release's schema/, 'and a lookup') or diag $err;

($rc, $out, $err) = $t->hashdb('upgrade', $db);
is($rc, 0, 'hashdb upgrade succeeds');
like($out, qr/upgraded \(the PDQ index rebuilt\); now reload nginx/,
     'and says it upgraded');
($rc, $out) = $t->hashdb('upgrade', $db);
ok($rc == 0 && $out =~ /already of this release's schema/,
   'a second upgrade changes nothing');

($rc, $out) = $t->hashdb('lookup', $db, "pdq:$listed");
is($rc, 0, 'the listed hash is found after the upgrade');

$t->start_upstream;
$t->start_nginx($server);
my $resp = $t->request('PUT', '/up/copy.jpg', $resized,
                       'Content-Type' => 'image/jpeg');
$t->expect($resp, 403, undef, 'a resized copy of the listed image');

$t->finish;
done_testing;
