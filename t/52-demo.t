#!/usr/bin/perl
# The demo that "make run" starts (demo/run.sh), as a new operator meets
# it: the form page, HTTP/2, a listed upload answered with the block page
# (what happened and a reference id, nothing of the match) as headless
# Chromium shows it, no "buffered to a temporary file" warnings, and a
# second start on a busy port refused without stopping the running demo.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest;

my ($chromium) = grep { -x } map { "/usr/bin/$_" } qw(chromium chromium-browser);

my $t = UFTest->new;
my $run = $t->dir . '/demo';
chmod 0755, $t->dir;                    # the workers run as www-data
my %port = (PORT => UFTest::free_port(), H2_PORT => UFTest::free_port(),
            UPSTREAM_PORT => UFTest::free_port());
my $env = join ' ', "RUN=$run", map { "$_=$port{$_}" } sort keys %port;
my $base = "http://127.0.0.1:$port{PORT}";

my $out = `$env $UFTest::ROOT/demo/run.sh 2>&1`;
is($? >> 8, 0, 'the demo starts') or diag $out;
like($out, qr{In a browser: http://127\.0\.0\.1:$port{PORT}/}, 'and says where to look');

my $page = `curl -s $base/`;
like($page, qr{<form action="/form" method="post" enctype="multipart/form-data">}, 'a form to try it with');

my $stand_in = "$UFTest::ROOT/demo/stand-in.txt";
my $resp = `curl -s -i -F file=\@$stand_in $base/form`;
like($resp, qr{^HTTP/1\.1 403 }, 'the listed stand-in: 403');
like($resp, qr{<h1>Upload refused</h1>}, 'with the block page');
my ($id) = $resp =~ m{<code id="ref">([0-9a-f]{32})</code>};
ok($id, 'which gives a reference id');
unlike($resp, qr/sha1|7c7b8a81|demo-list|source/i, 'and nothing of the match');
# nginx writes the line when it frees the request: after the response
my $log = '';
for (1 .. 40) {
    $log = $t->read_file("$run/access.log") // '';
    last if $log =~ /id=$id/;
    select undef, undef, undef, 0.05;
}
like($log, qr/"POST \/form HTTP\/1\.1" 403 id=$id result=match /,
     'the id finds the request in the access log');

my $h2 = `curl -s -o /dev/null -w '%{http_code} %{http_version}' --http2-prior-knowledge -T $stand_in http://127.0.0.1:$port{H2_PORT}/upload`;
is($h2, '403 2', 'over HTTP/2 too');
is(`curl -s -o /dev/null -w '%{http_code}' -F file=\@$UFTest::ROOT/README.md $base/form`, '200',
   'a clean upload passes');
unlike($t->read_file("$run/error.log") // '', qr/buffered to a temporary file/,
       'no "buffered to a temporary file" warnings in the demo\'s log');

SKIP: {
    skip 'no chromium', 5 unless $chromium;
    my $browser = "$chromium --headless --no-sandbox --disable-gpu --no-first-run "
                . "--user-data-dir=$t->{dir}/chromium --virtual-time-budget=10000 "
                . "--window-size=800,600";
    my $dom = `$browser --dump-dom $base/demo/try.html 2>/dev/null`;
    like($dom, qr{<body data-status="403">}, 'Chromium: the form upload of the stand-in gets 403');
    like($dom, qr{<h1>Upload refused</h1>.*<code id="ref">[0-9a-f]{32}</code>}s,
         'and shows the block page with its reference');

    # what a person sees: screenshots hashed by PDQ (hashdb hash)
    my %shot;
    for my $s (['block', "$base/demo/try.html"], ['block2', "$base/demo/try.html"],
               ['stock', 'data:text/html,<html><head><title>403 Forbidden</title></head>'
                         . '<body><center><h1>403 Forbidden</h1></center><hr>'
                         . '<center>nginx/1.22.1</center></body></html>']) {
        system("$browser --screenshot=$t->{dir}/$s->[0].png '$s->[1]' >/dev/null 2>&1");
        my (undef, $h) = $t->hashdb('hash', "$t->{dir}/$s->[0].png");
        ($shot{$s->[0]}, my $q) = $h =~ /^pdq:([0-9a-f]{64})  \S+  quality=(\d+)/m;
        $shot{"q$s->[0]"} = $q;
    }
    my $dist = sub { unpack('%32b*', pack('H*', $shot{$_[0]} // '') ^ pack('H*', $shot{$_[1]} // '')) };
    cmp_ok($shot{qblock} // 0, '>', 0, 'the screenshot of the block page is not blank');
    cmp_ok($dist->('block', 'block2'), '<=', 31, 'two block pages look alike (only the id differs)');
    cmp_ok($dist->('block', 'stock'), '>', 31, 'and not like nginx\'s stock 403 page');
}

# a second start while a port is taken by something else: refused, and
# the running demo keeps running
my $busy = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
my $busy_port = $busy->sockport;
$out = `$env H2_PORT=$busy_port $UFTest::ROOT/demo/run.sh 2>&1`;
isnt($? >> 8, 0, 'a start on a busy port fails');
like($out, qr/port $busy_port on 127\.0\.0\.1 is in use.*set PORT=/, 'and says which port, and what to set');
is(`curl -s -o /dev/null -w '%{http_code}' -F file=\@$stand_in $base/form`, '403',
   'the running demo still answers');
close $busy;

$out = `$env $UFTest::ROOT/demo/run.sh 2>&1`;
is($? >> 8, 0, 'a restart of the demo on its own ports works') or diag $out;

`$env $UFTest::ROOT/demo/run.sh stop 2>&1`;
is(`curl -s -o /dev/null -w '%{http_code}' $base/ 2>/dev/null`, '000', 'make stop stops it');

$t->finish;
done_testing;
