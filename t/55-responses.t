#!/usr/bin/perl
# Serve-time inspection (upload_filter_responses): what nginx serves from
# static files (sendfile on), a proxied origin, proxy_cache (miss, then
# hit from the cache file), a chunked and a gzip-encoded upstream answer,
# and a FastCGI application, over HTTP/1.1 and HTTP/2, is held, judged,
# then sent unchanged or refused with 451 and not a byte of it.  A
# resized copy of a listed photo is refused by PDQ (the thread pool);
# a Range request and HEAD pass uninspected, a response over the buffer
# streams with its digests checked, and are counted; uploads are judged
# as before.  (The verdict zone, streamed refusals: t/56.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Compress::Gzip qw(gzip);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
$t->{timeout} = 20;
my $dir = $t->dir;
my $img = "$UFTest::ROOT/t/data/pdq-vectors/images";

my $listed = "a stand-in for a listed file, served\n" x 50;
my $clean = join '', map { chr(($_ * 31) % 256) } 1 .. 300_000;
my $orig = "$img/bridge-mods--aaa-orig.jpg";
my $resized = $t->jpeg_transform($orig, 'resized.jpg', 'resize', 50, 70);
my $other = $t->jpeg_transform("$img/labelme-subset--q2821.jpg", 'other.jpg',
                               'reencode', 85);
my $big = 'b' x (3 * 1024 * 1024);

# the FastCGI application's answer to a 4-byte body stands in for a
# listed file an application serves
$t->listed(lines => [sha256_hex($listed), sha256_hex("received 4 bytes\n")],
           source => 'serve-test', category => 'S1');
my $pdq = $t->pdq_hash('--exact', $orig);
$t->listed(lines => ["$pdq,100,bridge"], source => 'pdq-serve', format => 'pdq');

for my $d ('origin', 'www') {
    $t->write_file("$d/listed.txt", $listed);
    $t->write_file("$d/clean.bin", $clean);
    $t->write_file("$d/resized.jpg", $resized);
    $t->write_file("$d/other.jpg", $other);
    $t->write_file("$d/big.bin", $big);
}
gzip(\$listed => \my $listed_gz) or die;
$t->write_file('origin/listed-gz.txt', $listed_gz);

$t->start_upstream('fastcgi');
my $fcgi = $t->{upstream};
my $h2 = UFTest::free_port();

$t->start_nginx(<<"EOF");
    proxy_cache_path $dir/cache keys_zone=edge:1m;
    log_format resp '\$request_method \$uri \$status '
                    'rresult=\$upload_filter_response_result '
                    'rmatch=\$upload_filter_response_match '
                    'rsource=\$upload_filter_response_source '
                    'rentry=\$upload_filter_response_entry '
                    'rdistance=\$upload_filter_response_distance '
                    'result=\$upload_filter_result';

    # the origin: plain nginx, no filter
    server {
        listen 127.0.0.1:%%PORT2%%;
        root $dir/origin;
        location /chunked/ {
            # no Content-Length: the answer comes chunked
            alias $dir/origin/;
            ssi on;
            ssi_types *;
        }
        location = /empty { return 200 ""; }
        location = /gz {
            default_type text/plain;
            add_header Content-Encoding gzip;
            alias $dir/origin/listed-gz.txt;
        }
    }

    # the edge: static files, proxy, proxy_cache, FastCGI
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2 http2;
        access_log $dir/resp.log resp;
        upload_filter_responses on;
        upload_filter_response_link https://hotline.example/notice;
        upload_filter_response_buffer 2m;
        sendfile on;

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
        location /fcgi/ {
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_pass 127.0.0.1:$fcgi;
        }
        location /upload {
            upload_filter on;
            proxy_pass http://127.0.0.1:%%PORT2%%/empty;
        }
        location /off/ {
            upload_filter_responses off;
            alias $dir/www/;
        }
        location /status {
            upload_filter_metrics;
        }
    }
EOF

sub get {
    my ($uri, %h) = @_;
    my $resp = $t->request($h{method} // 'GET', $uri, undef, %{ $h{headers} // {} });
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    $head //= '';
    $body //= '';
    if ($head =~ /^Transfer-Encoding: chunked\r?$/mi) {
        my $plain = '';
        while ($body =~ s/^([0-9a-f]+)\r\n//i) {
            my $n = hex $1;
            last if $n == 0;
            $plain .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $plain;
    }
    return (UFTest::status($resp), $head, $body);
}

sub refused {
    my ($uri, $what, %h) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($st, $head, $body) = get($uri, %h);
    is($st, 451, "$what: 451");
    ok(index($body, substr($listed, 0, 30)) < 0
       && index($body, "\xff\xd8\xff") < 0, "$what: not a byte of it sent");
    like($head, qr{^Link: <https://hotline\.example/notice>; rel="blocked-by"\r?$}m,
         "$what: with RFC 7725's Link header");
    return $head;
}

sub served {
    my ($uri, $want, $what, %h) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($st, $head, $body) = get($uri, %h);
    is($st, 200, "$what: 200");
    ok($body eq $want, "$what: the same bytes") or diag length($body) . ' bytes';
    return $head;
}

# static files, sendfile on
refused('/www/listed.txt', 'a listed static file');
served('/www/clean.bin', $clean, 'a clean static file');
like($t->wait_file('error.log', qr/response match/),
     qr{upload_filter: response match action=block digest=sha256:\Q${\ sha256_hex($listed)}\E source="serve-test" category="S1" part=body size=1850 url="http://localhost/www/listed\.txt" type="text/plain" held},
     'the log line: digest, source, URL, type, held');

# PDQ: a resized copy of a listed photo, hashed in the thread pool
refused('/www/resized.jpg', 'a resized copy of a listed photo');
served('/www/other.jpg', $other, 'an unrelated photo');
like($t->wait_file('error.log', qr/response match.*resized/),
     qr{response match action=block digest=pdq:[0-9a-f]{64} entry=pdq:\Q$pdq\E distance=\d+ variant=as-is .*source="pdq-serve".*format=jpeg url="http://localhost/www/resized\.jpg" type="image/jpeg"},
     'its log line: the entry, the distance, the format');

# a proxied origin, and proxy_cache: miss, then a hit from the cache file
refused('/proxy/listed.txt', 'a listed file from the origin');
served('/proxy/clean.bin', $clean, 'a clean file from the origin');
like($t->wait_file('error.log', qr{url="http://localhost/proxy/listed\.txt"}),
     qr{url="http://localhost/proxy/listed\.txt" type="text/plain" upstream="127\.0\.0\.1:\d+" held},
     'the upstream\'s address in the line');
{
    my $h = served('/cache/clean.bin', $clean, 'proxy_cache miss');
    like($h, qr/^X-Cache: MISS/m, 'it was a miss');
    $h = served('/cache/clean.bin', $clean, 'proxy_cache hit');
    like($h, qr/^X-Cache: HIT/m, 'then a hit, from the cache file');
    refused('/cache/listed.txt', 'a listed file, cache miss');
    refused('/cache/listed.txt', 'the same, now a cache hit');
    like($t->error_log, qr{url="http://localhost/cache/listed\.txt" type="text/plain" cache="HIT" held},
         'the cache\'s status in the line');
}

# chunked and gzip-encoded answers from the origin
{
    my $resp = `curl -s -D - -o /dev/null http://127.0.0.1:$t->{port2}/chunked/clean.bin`;
    like($resp, qr/^Transfer-Encoding: chunked\r$/mi, 'the origin answers chunked');
}
refused('/proxy/chunked/listed.txt', 'a listed file, chunked');
served('/proxy/chunked/clean.bin', $clean, 'a clean file, chunked');
refused('/proxy/gz', 'a listed file, gzip-encoded by the origin');

# FastCGI: the recording upstream answers "received N bytes"
{
    my $resp = $t->request('POST', '/fcgi/x', 'abcd');
    is(UFTest::status($resp), 451, 'a listed FastCGI answer: 451');
    unlike($resp, qr/received/, 'not a byte of it');
    $resp = $t->request('POST', '/fcgi/x', 'abcde');
    is(UFTest::status($resp), 200, 'a clean FastCGI answer passes');
    like($resp, qr/\r\nreceived 5 bytes\n\r\n0\r\n/, 'unchanged (chunked to the client, as without the filter)');
}

# HTTP/2
{
    my $body = `curl -s --http2-prior-knowledge -o - -w '\\n%{http_code}' http://127.0.0.1:$h2/www/listed.txt`;
    like($body, qr/\n451$/, 'HTTP/2: a listed file refused');
    unlike($body, qr/stand-in/, 'HTTP/2: not a byte of it');
    $body = `curl -s --http2-prior-knowledge -o $dir/h2.out -w '%{http_code}' http://127.0.0.1:$h2/www/clean.bin`;
    is($body, '200', 'HTTP/2: a clean file passes');
    ok($t->read_file('h2.out') eq $clean, 'HTTP/2: the same bytes');
}

# what passes uninspected, and is counted
{
    my ($st, $head, $body) = get('/www/listed.txt', headers => { Range => 'bytes=0-9' });
    is($st, 206, 'a Range request passes uninspected');
    is($body, substr($listed, 0, 10), 'with the range');
    ($st) = get('/www/listed.txt', method => 'HEAD');
    is($st, 200, 'HEAD has no body to inspect');
    served('/www/big.bin', $big, 'a response over upload_filter_response_buffer: streamed');
    served('/proxy/chunked/big.bin', $big, 'a chunked one that grows past it: streamed');
    like($t->error_log, qr/response streamed, larger than upload_filter_response_buffer: digests only/,
         'said in the log');
    served('/off/listed.txt', $listed, 'upload_filter_responses off: served');
    my (undef, undef, $m) = get('/status');
    like($m, qr/^upload_filter_responses_uninspected_total\{reason="range"\} 1$/m, 'metrics: the Range request counted');
    like($m, qr/^upload_filter_responses_streamed_total 2$/m, 'metrics: the two over the buffer, streamed');
    like($m, qr/^upload_filter_responses_total (\d+)$/m, 'metrics: responses inspected');
}

# the variables tell the response's verdict from the upload's
like($t->wait_file('resp.log', qr{/www/listed\.txt 451}),
     qr{^GET /www/listed\.txt 451 rresult=match rmatch=sha256:\Q${\ sha256_hex($listed)}\E rsource=serve-test .*result=-$}m,
     '$upload_filter_response_*: the response\'s verdict');
like($t->read_file('resp.log'), qr{^GET /www/clean\.bin 200 rresult=clean }m, 'clean');

# uploads are judged as before
{
    my $resp = $t->request('PUT', '/upload', $listed);
    is(UFTest::status($resp), 403, 'a listed upload is still refused with 403');
    $resp = $t->request('PUT', '/upload', 'fine');
    is(UFTest::status($resp), 200, 'a clean upload passes');
}

$t->finish;
done_testing;
