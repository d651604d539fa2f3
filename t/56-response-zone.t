#!/usr/bin/perl
# The verdict zone (upload_filter_zone, upload_filter_response_zone) and
# streamed responses: an object judged once is not read again (a cache
# hit costs a lookup); a listed one is refused at once, HEAD and Range
# too; after an update lists an object already cached, the next request
# is refused from its kept hashes, without its bytes being read; the
# allow list and a changed object are seen; a full zone lets its oldest
# entries go and still judges right; a response larger than the buffer
# streams and, when listed, is cut before its last byte (HTTP/1.1,
# chunked, HTTP/2), then refused at once; the zone's listed objects are
# listed for takedown; a reload keeps the verdicts.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex);

my $t = UFTest->new;
$t->{timeout} = 20;
my $dir = $t->dir;

my $listed = "a stand-in for a listed file, served from the zone\n" x 40;
my $clean = join '', map { chr(($_ * 37) % 251) } 1 .. 50_000;
my $later = join '', map { chr(($_ * 41) % 253) } 1 .. 50_000;
my $big_listed = join '', map { chr(($_ * 43) % 241) } 1 .. 300_000;
my $big_clean = join '', map { chr(($_ * 47) % 239) } 1 .. 300_000;

$t->listed(lines => [sha256_hex($listed), sha256_hex($big_listed)],
           source => 'zone-test', category => 'Z1');

for my $d ('origin', 'www') {
    $t->write_file("$d/listed.txt", $listed);
    $t->write_file("$d/clean.bin", $clean);
    $t->write_file("$d/later.bin", $later);
    $t->write_file("$d/other.bin", $clean . 'x');
    $t->write_file("$d/big-listed.bin", $big_listed);
    $t->write_file("$d/big-clean.bin", $big_clean);
}
$t->write_file('www/changing.txt', "a clean text, for now\n");
$t->write_file("many/$_.txt", "clean file number $_\n" x 3) for 1 .. 300;
$t->write_file('many/listed.txt', $listed);

my $h2 = UFTest::free_port();

my $http = <<"EOF";
    proxy_cache_path $dir/cache keys_zone=edge:1m;
    upload_filter_zone verdicts 1m;
    upload_filter_zone tiny 32k key=\$uri;
    upload_filter_zone toolong 32k key=\$request_uri;
    log_format resp '\$request_method \$uri \$status '
                    'rresult=\$upload_filter_response_result '
                    'rmatch=\$upload_filter_response_match';

    server {
        listen 127.0.0.1:%%PORT2%%;
        root $dir/origin;
        access_log $dir/origin.log;
        location /chunked/ {
            alias $dir/origin/;
            ssi on;
            ssi_types *;
        }
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2 http2;
        access_log $dir/resp.log resp;
        large_client_header_buffers 4 64k;
        upload_filter_responses on;
        upload_filter_response_zone verdicts;
        upload_filter_response_buffer 64k;

        location /www/ {
            root $dir;
        }
        location /proxy/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
        }
        location /cache/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
            proxy_cache edge;
            proxy_cache_valid 200 1h;
            add_header X-Cache \$upstream_cache_status;
        }
        location /reval/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
            proxy_cache edge;
            proxy_cache_valid 200 1s;
            proxy_cache_revalidate on;
            proxy_cache_use_stale http_404;
            add_header X-Cache \$upstream_cache_status;
        }
        location /nosendfile/ {
            sendfile off;
            alias $dir/www/;
        }
        location /many/ {
            upload_filter_response_zone tiny;
            root $dir;
        }
        location /longkey/ {
            upload_filter_response_zone toolong;
            alias $dir/many/;
        }
        location = /blocked {
            upload_filter_responses off;
            upload_filter_blocked verdicts;
        }
        location = /status {
            upload_filter_responses off;
            upload_filter_metrics;
        }
    }
EOF
$t->start_nginx($http);

sub get {
    my ($uri, %h) = @_;
    my $resp = $t->request($h{method} // 'GET', $uri, undef, %{ $h{headers} // {} });
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    return (UFTest::status($resp), $head // '', $body // '');
}

sub metric {
    my ($name) = @_;
    my (undef, undef, $m) = get('/status');
    my ($v) = $m =~ /^\Q$name\E (\d+)$/m;
    return $v // -1;
}

sub zone_count { metric("upload_filter_response_zone_total{result=\"$_[0]\"}") }

# curl's view of a download: exit code, bytes received, status
sub curl {
    my ($url, @opt) = @_;
    my $out = `curl -s @opt -o $dir/curl.out -w '%{http_code} %{size_download}' $url`;
    my $rc = $? >> 8;
    my ($code, $size) = split ' ', $out;
    return ($rc, $code, $size);
}

# a clean object: inspected once, then passed on from the zone unread
{
    my ($miss, $hit, $bytes) = (zone_count('miss'), zone_count('hit'),
                                metric('upload_filter_hashed_bytes_total'));
    my ($st, undef, $body) = get('/www/clean.bin');
    is($st, 200, 'a clean file: 200');
    ok($body eq $clean, 'the same bytes');
    is(zone_count('miss'), $miss + 1, 'not known yet: inspected');
    my $after = metric('upload_filter_hashed_bytes_total');
    is($after, $bytes + length $clean, 'its bytes hashed once');

    ($st, undef, $body) = get('/www/clean.bin');
    is($st, 200, 'again: 200');
    ok($body eq $clean, 'the same bytes again');
    is(zone_count('hit'), $hit + 1, 'known clean: passed on from the zone');
    is(metric('upload_filter_hashed_bytes_total'), $after, 'not hashed again');

    ($st, undef, $body) = get('/www/clean.bin', headers => { Range => 'bytes=10-19' });
    is($st, 206, 'a Range request for a known clean object: 206');
    is($body, substr($clean, 10, 10), 'with its range');
}

# a listed object: refused, then refused at once, HEAD and Range too
{
    my ($st, undef, $body) = get('/www/listed.txt');
    is($st, 451, 'a listed file: 451');
    unlike($body, qr/stand-in/, 'not a byte of it');
    ($st, undef, $body) = get('/www/listed.txt');
    is($st, 451, 'again: 451');
    like($t->wait_file('error.log', qr/response match.* known/),
         qr{response match action=block digest=sha256:\Q${\ sha256_hex($listed)}\E source="zone-test" category="Z1" part=body size=2040 url="http://localhost/www/listed\.txt" key="httplocalhost/www/listed\.txt" type="text/plain" known},
         'the second refusal: from the zone (known), with its key');
    ($st) = get('/www/listed.txt', method => 'HEAD');
    is($st, 451, 'HEAD of a listed object: 451');
    ($st, undef, $body) = get('/www/listed.txt', headers => { Range => 'bytes=0-9' });
    is($st, 451, 'a Range request for it: 451');
    unlike($body, qr/stand-in/, 'not a byte of the range');

    ($st, undef, $body) = get('/www/other.bin', headers => { Range => 'bytes=0-9' });
    is($st, 206, 'a Range request for an object not known: passed');
    like($t->error_log, qr/response passed uninspected: a Range request/, 'said in the log');
}

# an update lists an object already in the cache: refused at the next
# request, from its kept hashes, without reading it
{
    my ($st, $head, $body) = get('/cache/later.bin');
    like($head, qr/^X-Cache: MISS/m, 'a cache fill');
    ok($st == 200 && $body eq $later, 'clean: served');
    ($st, $head, $body) = get('/cache/later.bin');
    like($head, qr/^X-Cache: HIT/m, 'then a cache hit');
    ok($st == 200 && $body eq $later, 'served from the cache');

    $t->listed(lines => [sha256_hex($later)], source => 'today', category => 'T');

    my $bytes = metric('upload_filter_hashed_bytes_total');
    my $recheck = zone_count('recheck');
    my $fetched = () = ($t->read_file('origin.log') // '') =~ /later\.bin/g;

    ($st, $head, $body) = get('/cache/later.bin');
    is($st, 451, 'listed today: refused at the first request after the update');
    ok(index($body, substr($later, 0, 100)) < 0, 'not a byte of it');
    is(zone_count('recheck'), $recheck + 1, 'judged again from its kept hashes');
    is(metric('upload_filter_hashed_bytes_total'), $bytes, 'its bytes were not read again');
    my $now = () = ($t->read_file('origin.log') // '') =~ /later\.bin/g;
    is($now, $fetched, 'nor fetched from the origin');
    like($t->error_log,
         qr{response match action=block digest=sha256:\Q${\ sha256_hex($later)}\E source="today" category="T" .*url="http://localhost/cache/later\.bin" .*cache="HIT" known},
         'the log line: the new source, the cache hit, known');

    # a static file, too
    ($st) = get('/www/later.bin');
    is($st, 451, 'the same object as a static file: refused');
}

# the allow list, an update of its own: a known listed object served again
{
    my ($rc, $out, $err) = $t->hashdb('allow', $t->db, sha256_hex($listed), '--reason', 'zone test');
    is($rc, 0, 'hashdb allow') or diag $err;
    my ($st, undef, $body) = get('/www/listed.txt');
    is($st, 200, 'allowed: the known listed object is served');
    ok($body eq $listed, 'its bytes');
    ($rc, $out, $err) = $t->hashdb('unallow', $t->db, sha256_hex($listed));
    ($st) = get('/www/listed.txt');
    is($st, 451, 'allowed no more: refused again');
}

# proxy_cache revalidated and stale answers: the cached object, judged
{
    $t->write_file('origin/reval.bin', $clean . 'r');
    $t->write_file('origin/stale.bin', $clean . 's');
    $t->write_file('origin/stale-listed.bin', $clean . 'l');
    utime time - 3600, time - 3600, map { "$dir/origin/$_" } qw(reval.bin stale.bin stale-listed.bin);
    get("/reval/$_") for qw(reval.bin stale.bin stale-listed.bin);
    $t->listed(lines => [sha256_hex($clean . 'l')], source => 'stale-test');
    unlink "$dir/origin/stale.bin", "$dir/origin/stale-listed.bin";
    select undef, undef, undef, 2.2;

    my ($st, $head, $body) = get('/reval/reval.bin');
    like($head, qr/^X-Cache: REVALIDATED/m, 'proxy_cache revalidated (the origin said 304)');
    ok($st == 200 && $body eq $clean . 'r', 'a clean revalidated object: served');
    ($st, $head, $body) = get('/reval/stale.bin');
    like($head, qr/^X-Cache: STALE/m, 'proxy_cache stale (the origin lost it)');
    ok($st == 200 && $body eq $clean . 's', 'a clean stale object: served');
    ($st, $head, $body) = get('/reval/stale-listed.bin');
    is($st, 451, 'a stale object listed since: refused');
    like($t->error_log, qr{source="stale-test" .*url="http://localhost/reval/stale-listed\.bin" .*cache="STALE" known},
         'from its kept hashes, the cache saying STALE');
}

# sendfile off: the same
{
    my ($st) = get('/nosendfile/listed.txt');
    is($st, 451, 'sendfile off: a listed file refused');
    my (undef, undef, $body) = get('/nosendfile/clean.bin');
    ok($body eq $clean, 'sendfile off: a clean file served');
}

# a changed object (its ETag changes) is inspected anew
{
    my ($st, undef, $body) = get('/www/changing.txt');
    is($st, 200, 'a clean text: 200');
    get('/www/changing.txt');
    $t->write_file('www/changing.txt', $listed);
    utime time + 10, time + 10, "$dir/www/changing.txt";
    ($st, undef, $body) = get('/www/changing.txt');
    is($st, 451, 'rewritten with listed content: refused');
    like($t->error_log, qr{url="http://localhost/www/changing\.txt" key="[^"]*" type="text/plain" held},
         'inspected anew (held), not taken for the known clean one');
}

# a full zone: the least recently used entries go, verdicts stay right
{
    my $miss = zone_count('miss');
    for my $n (1 .. 300) {
        my ($st) = get("/many/$n.txt");
        die "many/$n: $st" unless $st == 200;
    }
    is(zone_count('miss'), $miss + 300, '300 objects inspected into a 32k zone');
    unlike($t->error_log, qr/no room for a verdict/, 'room made for each');
    my ($st) = get('/many/listed.txt');
    is($st, 451, 'a listed one among them: refused');
    ($st) = get('/many/listed.txt');
    is($st, 451, 'and again');
    my $hit = zone_count('hit');
    get('/many/300.txt');
    is(zone_count('hit'), $hit + 1, 'a recent entry is still known');
    $miss = zone_count('miss');
    ($st, undef, my $body) = get('/many/1.txt');
    is($st, 200, 'the oldest object: served');
    is(zone_count('miss'), $miss + 1, 'inspected again: its entry was let go');
}

# a verdict larger than the whole zone (a 40 KB key in a 32k zone): the
# response is served, the verdict not kept, the next request inspected
{
    my $uri = '/longkey/7.txt?' . ('k' x 40_000);
    my $miss = zone_count('miss');
    my ($st, undef, $body) = get($uri);
    ok($st == 200 && $body eq "clean file number 7\n" x 3, 'no room for its verdict: served whole');
    like($t->error_log, qr/\[warn\].*no room for a verdict of \d+ bytes in upload_filter_zone "toolong"/,
         'said at warn');
    ($st) = get($uri);
    is($st, 200, 'served again');
    is(zone_count('miss'), $miss + 2, 'inspected each time: nothing was kept');
}

# larger than the buffer: streamed, cut before the end when listed
{
    my ($rc, $code, $size) = curl("http://127.0.0.1:$t->{port}/proxy/big-clean.bin");
    ok($rc == 0 && $code == 200 && $size == 300_000, 'a clean large response streams whole');
    ok($t->read_file('curl.out') eq $big_clean, 'the same bytes');

    ($rc, $code, $size) = curl("http://127.0.0.1:$t->{port}/proxy/big-listed.bin");
    is($rc, 18, 'a listed large response: the client sees a truncated transfer');
    ok($size < 300_000, "fewer bytes than its length ($size)");
    like($t->wait_file('error.log', qr/response cut after/),
         qr{response match action=block digest=sha256:\Q${\ sha256_hex($big_listed)}\E .*url="http://[^/"]+/proxy/big-listed\.bin" .*streamed sent=\d+},
         'the log line: streamed, how much was sent');
    like($t->error_log, qr/response cut after \d+ of 300000 bytes, connection closed/, 'the cut logged');

    ($rc, $code, $size) = curl("http://127.0.0.1:$t->{port}/proxy/big-listed.bin");
    ok($rc == 0 && $code == 451, 'the next request: refused at once (451)');

    ($rc, $code, $size) = curl("http://127.0.0.1:$t->{port}/www/big-listed.bin");
    is($rc, 18, 'a large listed static file: truncated');
    ok($size < 300_000, 'cut before its end');

    # chunked: the end of the body is its last chunk, never sent
    ($rc, $code, $size) = curl("http://127.0.0.1:$t->{port}/proxy/chunked/big-listed.bin");
    is($rc, 18, 'chunked: the client sees the transfer incomplete');

    # HTTP/2: the stream is reset
    $t->write_file('www/h2-listed.bin', $big_listed);
    ($rc, $code, $size) = curl("http://127.0.0.1:$h2/www/h2-listed.bin", '--http2-prior-knowledge');
    ok($rc != 0 && $size < 300_000, "HTTP/2: the stream ends in an error (curl $rc), cut");
    ($rc, $code) = curl("http://127.0.0.1:$h2/www/h2-listed.bin", '--http2-prior-knowledge');
    is($code, 451, 'HTTP/2: then refused');
    is(metric('upload_filter_responses_streamed_total') >= 5, 1, 'streamed responses counted');
}

# the zone's listed objects, for takedown
{
    my ($st, $head, $body) = get('/blocked');
    is($st, 200, 'upload_filter_blocked: 200');
    like($head, qr{^Content-Type: application/x-ndjson}m, 'one JSON object a line');
    my ($line) = grep { m{"url":"http://localhost/cache/later\.bin"} } split /\n/, $body;
    ok($line, 'the object listed today is there');
    like($line // '', qr{"key":"httplocalhost/cache/later\.bin"}, 'its key');
    like($line // '', qr{"match":"sha256:\Q${\ sha256_hex($later)}\E"}, 'its digest');
    like($line // '', qr{"source":"today","category":"T"}, 'its source and category');
    like($line // '', qr{"refused":1\b}, 'how often it was refused');
    like($line // '', qr{"since":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"}, 'since when');
    ($line) = grep { m{/www/listed\.txt} } split /\n/, $body;
    like($line // '', qr{"refused":[3-9]}, 'the static listed file, refused several times');
    unlike($body, qr{clean\.bin}, 'clean objects are not listed');
}

# the variables, for a known clean object
like($t->read_file('resp.log'), qr{^GET /www/clean\.bin 200 rresult=clean rmatch=-$}m,
     '$upload_filter_response_result: clean');

# a reload keeps the verdicts
{
    # judged again after the updates above, then known under this set
    my $recheck = zone_count('recheck');
    get('/www/clean.bin');
    is(zone_count('recheck'), $recheck + 1, 'a clean object after updates: checked again');
    $t->reload_nginx;
    my $hit = zone_count('hit');
    my ($st, undef, $body) = get('/www/clean.bin');
    ok($st == 200 && $body eq $clean, 'after a reload: served');
    is(zone_count('hit'), $hit + 1, 'from the zone, still known');
}

$t->finish;

# configuration errors
{
    my $t2 = UFTest->new;
    $t2->listed(lines => [sha256_hex('x')]);
    my ($rc, $out) = $t2->nginx_test(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT%%;
        upload_filter_responses on;
        upload_filter_response_zone nowhere;
    }
EOF
    isnt($rc, 0, 'a zone never defined: nginx -t fails');
    like($out, qr/"nowhere"/, 'naming it');
    ($rc, $out) = $t2->nginx_test(<<'EOF');
    upload_filter_zone z 1k;
EOF
    like($out, qr/zone "z" is too small/, 'a zone too small is refused');
    ($rc, $out) = $t2->nginx_test(<<'EOF');
    upload_filter_zone z 1m size=2;
EOF
    like($out, qr/invalid parameter "size=2"/, 'an unknown parameter is refused');
}

done_testing;
