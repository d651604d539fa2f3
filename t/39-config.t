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
like($out, qr/"upload_filter on" in \S+nginx\.conf:\d+ needs the hash set: "upload_filter_db PATH;" in the http block/,
     'pointing at the line that turns it on');
my ($line) = $out =~ /nginx\.conf:(\d+) needs/;
my @conf = split /\n/, $t->read_file('nginx.conf');
like($conf[$line - 1] // '', qr/upload_filter on;/, 'which is that line');

# the same for the response side, which needs the set as much
($rc, $out) = $t->nginx_test(<<'EOF2', no_db => 1);
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            upload_filter_responses on;
            return 204;
        }
    }
EOF2
isnt($rc, 0, 'upload_filter_responses on without upload_filter_db fails');
like($out, qr/"upload_filter_responses on" in \S+nginx\.conf:\d+ needs the hash set/,
     'naming that directive and its line');
($rc, $out) = $t->nginx_test(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        upload_filter_response_status 200;
    }
EOF2
like($out, qr/"upload_filter_response_status" takes 400 to 599, not 200/,
     'upload_filter_response_status: a status a refusal can have');

for my $bad (['upload_filter_status 200;', qr/"upload_filter_status" takes 400 to 599, not 200/],
             ['upload_filter_action drop;', qr/"upload_filter_action" takes "block" or "log", not "drop"/],
             ['upload_filter_video_sampling slow;', qr/"upload_filter_video_sampling" takes "exact", "fast" or "keyframes", not "slow"/],
             ['upload_filter_thread_priority low;', qr/"upload_filter_thread_priority" takes "normal", "batch" or "idle", not "low"/],
             ['upload_filter_vpdq_match 0 0;', qr/a listed video's share must be over 0%/],
             ['upload_filter_vpdq_match 80 101;', qr/"101": a percentage from 0 to 100/],
             ['upload_filter_pdq_distance 64;', qr/"upload_filter_pdq_distance" takes 0 to 47, not 64/],
             ['upload_filter_on_error ignore;', qr/invalid value "ignore", it must be "reject" or "pass"/],
             ['upload_filter_on_error pass sometimes;', qr/unknown case "sometimes": use unavailable, too_large/],
             ['upload_filter_max_body_size lots;', qr/"upload_filter_max_body_size" directive invalid value/]) {
    (my $conf = $server) =~ s/upload_filter on;/upload_filter on; $bad->[0]/;
    ($rc, $out) = $t->nginx_test($conf);
    ok($rc != 0 && $out =~ $bad->[1], "rejected: $bad->[0]") or diag $out;
}

$t->finish;
done_testing;
