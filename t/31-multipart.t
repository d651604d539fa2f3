#!/usr/bin/perl
# multipart/form-data: each part hashed on its own, with and without
# filename, several files, quoted boundaries, tiny buffers, chunked,
# HTTP/2, escaped names in the log, malformed bodies and limits.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex sha1_hex md5_hex multipart);

my $t = UFTest->new;
$t->{timeout} = 30;    # a 1-byte buffer is slow on a loaded machine

my $listed = join '', map { chr(($_ * 13 + 5) % 256) } 1 .. 40_000;
my $listed_small = "small listed stand-in\r\n--not-a-boundary\r\n";
my $clean = "clean file content\r\n" x 500;

$t->listed(source => 'hotline-test', category => 'B',
           lines => [sha1_hex($listed), sha1_hex($listed_small)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server(
    http2 => 1,
    server => 'client_max_body_size 10m;',
    location => 'client_body_buffer_size 8k;',
    proxied => ['/tiny/' => 'client_body_buffer_size 1;',
                '/few/' => 'upload_filter_max_parts 3;',
                '/lenient/' => "upload_filter_on_error pass;\n"
                             . 'upload_filter_max_parts 3;']));

sub post {
    my ($uri, $body, $ct) = @_;
    return $t->request('POST', $uri, $body, 'Content-Type' => $ct);
}

sub expect { $t->expect(@_) }

my $ct = 'multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW';
my $b = '----WebKitFormBoundary7MA4YWxkTrZu0gW';

my $one = multipart($b, ['file', 'photo.jpg', $listed]);
expect(post('/up', $one, $ct), 403, undef, 'one listed file');

my $several = multipart($b, ['title', undef, 'holiday'],
                        ['a', 'a.bin', $clean], ['b', 'b.bin', $listed],
                        ['c', 'c.bin', 'more']);
expect(post('/up', $several, $ct), 403, undef, 'several files, one listed');

my $clean_body = multipart($b, ['title', undef, 'holiday'],
                           ['a', 'a.bin', $clean], ['c', 'c.bin', $listed . 'x']);
expect(post('/up', $clean_body, $ct), 200, $clean_body, 'several clean files');

my $field = multipart($b, ['comment', undef, $listed_small]);
expect(post('/up', $field, $ct), 403, undef, 'a listed part without filename');

my $whole = $one;    # the whole body's digest is not what is listed
expect(post('/up', $listed_small, 'application/octet-stream'), 403, undef,
       'the same content as a raw body');

# quoted boundary with characters that need quoting
my $qb = "a'b(c)d+e_f,g-h.i/j:k=l?m n";
expect(post('/up', multipart($qb, ['f', 'x', $listed]),
            qq{multipart/form-data; charset=utf-8; boundary="$qb"}),
       403, undef, 'quoted boundary');

# every piece of the body a separate buffer
expect(post('/tiny/up', $several, $ct), 403, undef, 'client_body_buffer_size 1: listed');
expect(post('/tiny/up', $clean_body, $ct), 200, $clean_body, 'client_body_buffer_size 1: clean');

# chunked, in small chunks
{
    my $chunked = UFTest::chunked($several, 3);
    my $resp = $t->raw("POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       . "Content-Type: $ct\r\nTransfer-Encoding: chunked\r\n\r\n"
                       . $chunked);
    expect($resp, 403, undef, 'chunked multipart');
}

# HTTP/2 with curl -F
SKIP: {
    skip 'curl without HTTP/2', 4 unless `curl -V` =~ /HTTP2/;
    my $f = $t->write_file('listed.bin', $listed);
    my $g = $t->write_file('clean.bin', $clean);
    my $url = "http://127.0.0.1:$t->{port2}/up";
    my $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -F note=hi -F a=\@$g -F b=\@$f $url`;
    is($code, '403', 'HTTP/2 multipart with a listed file: 403');
    is($t->connections, 0, 'HTTP/2: upstream never connected');
    $code = `curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -F note=hi -F a=\@$g $url`;
    is($code, '200', 'HTTP/2 clean multipart: 200');
    is(scalar($t->records), 1, 'HTTP/2 clean multipart forwarded');
    $t->clear_records;
}

# names in the log are escaped
{
    my $body = "--$b\r\nContent-Disposition: form-data; name=\"evil\\\"name\"; "
             . "filename=\"a\\\"b\x1bc\x01\xff.jpg\"\r\n\r\n$listed\r\n--$b--\r\n";
    expect(post('/up', $body, $ct), 403, undef, 'a listed file with a hostile filename');
    my ($line) = grep { /filename=.*a\\x5c/ } split /\n/, $t->error_log;
    ok($line, 'the match is logged on one line');
    like($line // '', qr/upload_filter: match action=block digest=sha1:\Q${\ sha1_hex($listed)}\E source="hotline-test" category="B" part=1 name="evil\\x5c\\x22name" filename="a\\x5c\\x22b\\x1bc\\x01\\xff\.jpg" size=40000, client: 127\.0\.0\.1/,
         'quotes, backslashes, control bytes and bytes >= 0x7f are escaped');
}

like($t->error_log, qr/match action=block digest=sha1:\S+ source="hotline-test" category="B" part=3 name="b" filename="b\.bin" size=40000/,
     'the log names the part index, name, filename and size');

# malformed bodies: the default policy rejects with 400
expect(post('/up', "--$b\r\n\r\nunterminated part", $ct), 400, undef,
       'no closing delimiter: 400');
like($t->error_log, qr/\[warn\].*cannot inspect upload: multipart body without closing delimiter \(malformed\), rejected/,
     'logged with its reason');
expect(post('/up', "no delimiter here", $ct), 400, undef, 'no delimiter at all: 400');
expect(post('/up', $one, 'multipart/form-data'), 400, undef, 'multipart without boundary: 400');
expect(post('/up', "--$b\r\nX: " . ('a' x 70_000) . "\r\n\r\nx\r\n--$b--", $ct), 400, undef,
       'part headers over upload_filter_part_headers_size: 400');
{
    my $long = "--$b\r\nContent-Disposition: form-data; name=\"f\"; filename=\""
             . ('n' x 9000) . "\"\r\n\r\nx\r\n--$b--\r\n";
    expect(post('/up', $long, $ct), 200, $long,
           'a 9 KB file name passes (parsers accept it)');
}
my $unterminated_listed = "--$b\r\nContent-Disposition: form-data; name=f\r\n\r\n$listed";
expect(post('/up', $unterminated_listed, $ct), 403, undef,
       'a listed file in an unterminated part is still blocked');

my $many = multipart($b, map { ["f$_", undef, "v$_"] } 1 .. 4);
expect(post('/few/up', $many, $ct), 400, undef, 'more parts than upload_filter_max_parts: 400');
like($t->error_log, qr/cannot inspect upload: more parts than upload_filter_max_parts \(too_many_parts\), rejected/,
     'too many parts logged');

# upload_filter_on_error pass: malformed bodies pass, logged
expect(post('/lenient/up', $many, $ct), 200, $many, 'on_error pass: too many parts forwarded');
like($t->error_log, qr/more parts than upload_filter_max_parts \(too_many_parts\), passed uninspected/,
     'on_error pass is logged');
my $bad = "--$b\r\n\r\nunterminated";
expect(post('/lenient/up', $bad, $ct), 200, $bad, 'on_error pass: malformed body forwarded');

$t->like_access(qr{^POST /up 400 result=error .* reason="multipart body without closing delimiter"}m,
     '$upload_filter_reason in the access log');

$t->finish;
done_testing;
