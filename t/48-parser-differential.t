#!/usr/bin/perl
# The parser differential: real application parsers behind nginx (PHP,
# werkzeug, Python's cgi, python-multipart, Go, busboy), and request
# framings that some of them read differently from others (t/lib/
# UFDiff.pm).  The assertion, for every variant and every parser: if the
# filter let the request through, the parser extracted nothing whose
# digest is listed.  Then real clients' clean uploads pass, and reach
# the parsers whole.
#
# make test runs the classes and a bounded sample of combinations and
# mutations (UF_DIFF_RANDOM, default 120; bench/differential.sh runs
# thousands, with other seeds).

use strict;
use warnings;
use lib 't/lib';
use Digest::SHA qw(sha256_hex);
use Test::More;
use UFTest;
use UFDiff qw(start_parsers nginx_locations variants run_variant @PARSERS);

my $t = UFTest->new;
$t->{timeout} = 20;

plan skip_all => 'no parsers: make deps-diff'
    unless -x "$UFTest::ROOT/build/diff/goparser"
        && -d "$UFTest::ROOT/build/npm/node_modules/busboy";

# the listed stand-in: random bytes, and a clean one (no CR or LF in it:
# Python's email generator rewrites line ends, as it may)
srand(7);
my $L = join '', map { chr(int rand 256) } 1 .. 3000;
my $C = join '', grep { !/[\r\n]/ } map { chr(int rand 256) } 1 .. 3200;
my $listed = sha256_hex($L);

$t->listed(source => 'diff-test', lines => [$listed]);
my $p = start_parsers($t);
$t->start_nginx(<<"EOF2");
    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 10m;

        location /diff/ {
            alias $UFTest::ROOT/t/diff/;
        }

${\ nginx_locations($p)}
    }
EOF2

my @v = variants($L, random => $ENV{UF_DIFF_RANDOM} // 120,
                 seed => $ENV{UF_DIFF_SEED} // 1);

my (%extracts, %passed, $dangerous, $refused, $bypass);
for my $v (@v) {
    my $danger = 0;
    for my $parser (@PARSERS) {
        my (undef, $off) = run_variant($t, $v, $parser, 'off');
        my $got = grep { $_ eq $listed } @$off;
        $extracts{$parser}++ if $got;
        $danger ||= $got;

        my ($status, $on) = run_variant($t, $v, $parser, 'on');
        if (grep { $_ eq $listed } @$on) {
            $bypass++;
            fail("$v->[0]: $parser extracted the listed file through the "
                 . "filter (status $status)");
        }
        $passed{$parser}++ if $status == 200;
        $refused++ if $status == 400 || $status == 415;
    }
    $dangerous++ if $danger;
}

ok(!$bypass, sprintf 'no listed file reached any parser through the filter '
   . '(%d variants, %d parsers, %d requests)', scalar @v, scalar @PARSERS,
   2 * @v * @PARSERS);
ok($dangerous > @v / 2, "the variants are real: in $dangerous of "
   . scalar(@v) . " some parser extracts the listed file");
for my $parser (@PARSERS) {
    ok($extracts{$parser}, "$parser extracts the file from "
       . ($extracts{$parser} // 0) . ' variants without the filter');
}
diag(sprintf "differential: %d variants x %d parsers; dangerous %d; "
     . "refused as malformed %d requests; %s", scalar @v, scalar @PARSERS,
     $dangerous, $refused // 0,
     join ' ', map { "$_ extracts=" . ($extracts{$_} // 0)
                     . " passed=" . ($passed{$_} // 0) } @PARSERS)
    if $ENV{UF_DIFF_REPORT};

# --- real clients, clean uploads ---------------------------------------------

my $cf = $t->write_file('clean.bin', $C);
my $want = sha256_hex($C);

sub clean_through {
    my ($what, @cmd) = @_;
    for my $parser (@PARSERS) {
        my $url = "http://127.0.0.1:$t->{port}/on/$parser/up";
        my $out = `@cmd '$url' 2>&1`;
        ok($out =~ /^\Q$want\E /m, "$what: $parser got the clean file whole")
            or diag($out);
    }
}

clean_through('curl -F', "curl -s -F note=hello -F 'up=\@$cf' -o -");
clean_through('curl --data-urlencode', "curl -s --data-urlencode 'up\@$cf' -o -");
clean_through('Python email + urllib', '/usr/bin/python3',
              "$UFTest::ROOT/t/diff/clients.py", 'python', $cf);
clean_through('Node FormData', 'node', "$UFTest::ROOT/t/diff/clients.js", $cf);
clean_through('Go mime/multipart writer',
              "$UFTest::ROOT/build/diff/goparser", 'client', $cf);

# a real browser's FormData: headless Chromium runs t/diff/upload.html
SKIP: {
    my ($chromium) = grep { -x } map { "/usr/bin/$_" } qw(chromium chromium-browser);
    skip 'no chromium', scalar @PARSERS unless $chromium;
    my $want_b = sha256_hex(join '', map { chr((7 * $_ + 3) % 256) } 0 .. 2999);
    my $url = "http://127.0.0.1:$t->{port}/diff/upload.html?p=" . join ',', @PARSERS;
    my $dom = `$chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=$t->{dir}/chromium --virtual-time-budget=20000 --dump-dom '$url' 2>/dev/null`;
    for my $parser (@PARSERS) {
        my ($status, $answer) = $dom =~ /\[$parser (\d+)\]\n(.*?)(?=\n\[|done)/s;
        ok(($status // 0) == 200 && ($answer // '') =~ /^\Q$want_b\E /m,
           "Chromium FormData: $parser got the clean file whole")
            or diag($dom);
    }
}

$t->finish;
done_testing;
