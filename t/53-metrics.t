#!/usr/bin/perl
# upload_filter_metrics: Prometheus' text format, summed over the workers,
# checked by promtool and scraped by a real Prometheus server on loopback,
# whose query API sees a match counter move.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $listed = "a listed file for the metrics\n" x 20;
$t->listed(source => 'metrics-test', category => 'M1', lines => [sha256_hex($listed)]);
my ($pdq) = map { (split /,/)[2] }
            grep { m{^images/bridge-mods/square-256x256\.jpg,} }
            split /\n/, $t->read_file("$UFTest::ROOT/t/data/formats/expected.csv");
$t->hashdb('import', $t->db, '--source', 'metrics-pdq', '--unsigned', '--format', 'pdq', '-',
           \"$pdq,100,square\n");
my $photo = $t->read_file("$UFTest::ROOT/t/data/formats/images/bridge-mods/square-256x256.png");

$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    server => "client_max_body_size 10m;",
    locations => "        location = /metrics { upload_filter_metrics; }\n"),
    workers => 2);

sub put { UFTest::status($t->request('PUT', '/up', $_[0])) }
sub scrape { scalar `curl -s http://127.0.0.1:$t->{port}/metrics` }
sub value {
    my ($text, $name) = @_;
    return $text =~ /^\Q$name\E (\S+)$/m ? $1 : undef;
}

my $before = scrape();
like($before, qr/^# TYPE upload_filter_requests_total counter$/m, 'the text format, with TYPE lines');
is(value($before, 'upload_filter_requests_total'), 0, 'no request inspected yet');

is(put($listed), 403, 'a listed digest');
is(put($photo), 403, 'a listed image, by PDQ');
is(put("clean\n" x 100), 200, 'a clean upload');
is(put("\x89PNG\r\n\x1a\n" . ("x" x 100)), 422, 'a PNG that does not decode');
# the counters are written when each request is freed
sleep 0.3;

my $m = scrape();
is(value($m, 'upload_filter_requests_total'), 4, 'four requests inspected (by both workers, summed)');
is(value($m, 'upload_filter_matches_total{source="metrics-test",category="M1",kind="digest",action="block"}'), 1,
   'a digest match by source, category, kind and action');
is(value($m, 'upload_filter_matches_total{source="metrics-pdq",category="",kind="pdq",action="block"}'), 1,
   'a PDQ match');
is(value($m, 'upload_filter_media_hashed_total{format="png"}'), 1, 'one PNG hashed');
is(value($m, 'upload_filter_errors_total{case="unhashable"}'), 1, 'one unhashable');
is(value($m, 'upload_filter_verdicts_total{result="match"}'), 2, 'two verdicts of match');
is(value($m, 'upload_filter_verdicts_total{result="clean"}'), 1, 'one clean');
is(value($m, 'upload_filter_verdict_seconds_count{kind="images"}'), 2, 'two verdicts waited for images');
cmp_ok(value($m, 'upload_filter_hashed_bytes_total'), '>=', length($listed) + length($photo),
       'the bytes inspected');
is(value($m, 'upload_filter_hashset_entries{source="metrics-test",type="sha256"}'), 1,
   'the hash set: entries per source and type');
like(value($m, 'upload_filter_hashset_updated_timestamp_seconds{source="metrics-pdq"}') // '',
     qr/^1[7-9]\d{8}$/, 'and when each source was updated, to alert on a stale list');

SKIP: {
    skip 'no promtool (Debian\'s prometheus)', 1 unless -x '/usr/bin/promtool';
    my $file = $t->write_file('metrics.txt', $m);
    my $out = `promtool check metrics < $file 2>&1`;
    is($? >> 8, 0, 'promtool check metrics: no complaint') or diag $out;
}

# the same gauges from the tool, for node_exporter's textfile collector
my (undef, $tool) = $t->hashdb('stats', '--prometheus', $t->db);
for my $g ('upload_filter_hashset_entries{source="metrics-test",type="sha256"}',
           'upload_filter_hashset_sequence{source="metrics-pdq"}') {
    is(value($tool, $g), value($m, $g), "hashdb stats --prometheus: $g as the module says");
}
SKIP: {
    skip 'no promtool', 1 unless -x '/usr/bin/promtool';
    my $file = $t->write_file('tool-metrics.txt', $tool);
    my $out = `promtool check metrics < $file 2>&1`;
    is($? >> 8, 0, 'and promtool takes it') or diag $out;
}

SKIP: {
    skip 'no prometheus', 3 unless -x '/usr/bin/prometheus';
    my $port = UFTest::free_port();
    my $conf = $t->write_file('prometheus.yml', <<"YML");
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: upload_filter
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$t->{port}']
YML
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', "$t->{dir}/prometheus.log";
        open STDERR, '>&', \*STDOUT;
        exec '/usr/bin/prometheus', "--config.file=$conf", "--storage.tsdb.path=$t->{dir}/tsdb",
             "--web.listen-address=127.0.0.1:$port";
        exit 127;
    }
    my $api = "http://127.0.0.1:$port/api/v1/query";
    my $query = 'sum(upload_filter_matches_total{source="metrics-test"})';
    my $seen = sub {
        my ($want, $s) = @_;
        my $v;
        for (1 .. $s * 4) {
            my $r = `curl -s -G --data-urlencode 'query=$query' $api`;
            ($v) = $r =~ /"value":\[[\d.]+,"(\d+)"\]/;
            return $v if defined $v && $v >= $want;
            sleep 0.25;
        }
        return $v;
    };
    is($seen->(1, 30), 1, 'Prometheus scrapes it: one match of the source')
        or diag(`curl -s http://127.0.0.1:$port/api/v1/targets`);
    is(put($listed), 403, 'another listed upload');
    is($seen->(2, 15), 2, 'and its query API sees the counter move');
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

$t->finish;
done_testing;
