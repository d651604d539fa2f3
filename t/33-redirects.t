#!/usr/bin/perl
# The verdict survives internal redirects: error_page and try_files can
# never turn a blocked upload into a forwarded one; a static error page
# can still be served.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $listed = "listed stand-in for redirect tests\n" x 100;
my $clean = "clean\n" x 100;
$t->listed(lines => [sha256_hex($listed)]);
$t->write_file('html/blocked.html', "custom blocked page\n");
$t->start_upstream;
$t->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        upload_filter on;

        location /named/ {
            error_page 403 = @backend;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location /named-200/ {
            error_page 403 =200 @backend;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location /uri/ {
            error_page 403 /err/;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location /err/ {
            upload_filter off;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location /page/ {
            error_page 403 /blocked.html;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }

        location /tf/ {
            try_files /nonexistent @backend;
        }

        location @backend {
            upload_filter off;
            proxy_pass http://127.0.0.1:%%UPSTREAM%%;
        }
    }
EOF2

for my $uri ('/named/x', '/named-200/x', '/uri/x', '/tf/x') {
    my $resp = $t->request('POST', $uri, $listed);
    is(UFTest::status($resp), 403, "$uri: listed upload rejected");
    is($t->connections, 0, "$uri: the redirect target never reached the upstream");
    $t->clear_records;
}

my $resp = $t->request('POST', '/page/x', $listed);
is(UFTest::status($resp), 403, 'static error_page: 403');
like($resp, qr/custom blocked page/, 'static error_page: the custom page is served');
is($t->connections, 0, 'static error_page: nothing upstream');

for my $uri ('/named/x', '/tf/x') {
    $resp = $t->request('POST', $uri, $clean);
    is(UFTest::status($resp), 200, "$uri: clean upload passes");
    my @r = $t->records;
    ok(@r == 1 && $r[0]{body} eq $clean, "$uri: clean body forwarded whole");
    $t->clear_records;
}

$t->like_access(qr{^GET /blocked\.html 403 result=match}m,
     'the verdict is still in the variables after the redirect');

$t->finish;
done_testing;
