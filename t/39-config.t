#!/usr/bin/perl
# Configuration errors that "nginx -t" reports.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex);

my $t = UFTest->new;
$t->listed(lines => [sha256_hex('x')]);

my $server = <<'EOF2';
    server {
        listen 127.0.0.1:%%PORT%%;
        upload_filter on;
        location / { return 204; }
    }
EOF2

my ($rc, $out) = $t->nginx_test($server);
is($rc, 0, 'a valid configuration passes nginx -t');

($rc, $out) = $t->nginx_test($server, db => $t->dir . '/missing');
isnt($rc, 0, 'a missing hash set fails nginx -t');
like($out, qr/\[emerg\] upload_filter_db ".*\/missing": No such file or directory/,
     'with a clear message');

mkdir $t->dir . '/empty';
($rc, $out) = $t->nginx_test($server, db => $t->dir . '/empty');
isnt($rc, 0, 'a directory that is not a hash set fails nginx -t');
like($out, qr/upload_filter_db ".*empty": not a hash set/, 'and says so');

($rc, $out) = $t->nginx_test($server, no_db => 1);
isnt($rc, 0, 'upload_filter on without upload_filter_db fails');
like($out, qr/"upload_filter" is on, but "upload_filter_db" is not set/, 'with a clear message');

for my $bad (['upload_filter_status 200;', qr/value must be between 400 and 599/],
             ['upload_filter_action drop;', qr/invalid value "drop"/],
             ['upload_filter_on_error ignore;', qr/invalid value "ignore", it must be "reject" or "pass"/],
             ['upload_filter_on_error pass sometimes;', qr/unknown case "sometimes": use unavailable, too_large/],
             ['upload_filter_max_body_size lots;', qr/"upload_filter_max_body_size" directive invalid value/]) {
    (my $conf = $server) =~ s/upload_filter on;/upload_filter on; $bad->[0]/;
    ($rc, $out) = $t->nginx_test($conf);
    ok($rc != 0 && $out =~ $bad->[1], "rejected: $bad->[0]") or diag $out;
}

$t->finish;
done_testing;
