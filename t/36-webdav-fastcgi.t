#!/usr/bin/perl
# In front of WebDAV PUT (nginx stores the file itself) and fastcgi_pass.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex multipart);

my $t = UFTest->new;
my $listed = join '', map { chr(($_ * 31) % 251) } 1 .. 100_000;
my $clean = "clean dav file\n" x 1000;
$t->listed(lines => [sha256_hex($listed)]);
my $fcgi = $t->start_upstream('fastcgi');
$t->start_nginx(<<'EOF2');
    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 10m;
        client_body_buffer_size 8k;
        upload_filter on;

        location /dav/ {
            root %%DIR%%;
            dav_methods PUT DELETE;
            create_full_put_path on;
        }

        location /fcgi/ {
            fastcgi_pass 127.0.0.1:%%UPSTREAM%%;
            include /etc/nginx/fastcgi_params;
        }
    }
EOF2

my $resp = $t->request('PUT', '/dav/sub/clean.bin', $clean);
like(UFTest::status($resp), qr/^20[14]$/, 'WebDAV PUT of a clean file works');
is($t->read_file('dav/sub/clean.bin'), $clean, 'and stores the same bytes');

$resp = $t->request('PUT', '/dav/sub/listed.bin', $listed);
is(UFTest::status($resp), 403, 'WebDAV PUT of a listed file: 403');
ok(!-e $t->dir . '/dav/sub/listed.bin', 'the listed file is not stored');
# nginx removes the temporary file when the connection closes, just after
# the client has the response
my @left;
for (1 .. 40) {
    @left = grep { -f } (glob($t->dir . '/client_body/*/*'), glob($t->dir . '/client_body/*'));
    last unless @left;
    select undef, undef, undef, 0.05;
}
ok(!@left, 'no temporary file is left behind');

$resp = $t->request('PUT', '/dav/sub/clean.bin', $listed);
is(UFTest::status($resp), 403, 'overwriting with a listed file: 403');
is($t->read_file('dav/sub/clean.bin'), $clean, 'the stored file is unchanged');

$resp = $t->request('POST', '/fcgi/upload', $listed);
is(UFTest::status($resp), 403, 'fastcgi_pass: listed upload 403');
is($t->connections, 0, 'fastcgi_pass: the FastCGI server was never connected');
$t->clear_records;

$resp = $t->request('POST', '/fcgi/upload', $clean);
is(UFTest::status($resp), 200, 'fastcgi_pass: clean upload 200');
my @r = $t->records;
ok(@r == 1 && $r[0]{body} eq $clean, 'fastcgi_pass: the same bytes on FastCGI stdin');
$t->clear_records;

my $mp = multipart('f', ['a', 'a.bin', $clean], ['b', 'b.bin', $listed]);
$resp = $t->request('POST', '/fcgi/upload', $mp, 'Content-Type' => 'multipart/form-data; boundary=f');
is(UFTest::status($resp), 403, 'fastcgi_pass: multipart with a listed file 403');

$t->finish;
done_testing;
