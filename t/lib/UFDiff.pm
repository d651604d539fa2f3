package UFDiff;

# The parser-differential harness: real application parsers as upstreams
# of nginx (PHP through php-cgi and FastCGI, werkzeug, Python's cgi,
# python-multipart, Go's net/http and mime/multipart, Node's busboy),
# each answering with the SHA-256 of every file and field it extracted
# (t/diff/), and a generator of request framings that some parser reads
# differently from another: every class of the issue, combinations of
# them, and random mutations of valid bodies.
#
# Each variant goes to each parser through a location with the filter on
# and through one with it off.  Off says what the parser makes of the
# request; on must never let a request through from which the parser
# extracted the listed file.

use strict;
use warnings;

use Exporter qw(import);
use IO::Compress::Gzip qw(gzip $GzipError);
use MIME::Base64 qw(encode_base64);
use MIME::QuotedPrint qw(encode_qp);

our @EXPORT_OK = qw(start_parsers nginx_locations variants run_variant
                    @PARSERS);

our @PARSERS = qw(php werkzeug cgi multipart go busboy);

my $PY = '/usr/bin/python3';    # Debian's, with python3-werkzeug & co.

sub _spawn {
    my ($t, $env, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        %ENV = (%ENV, %$env);
        open STDOUT, '>>', "$t->{dir}/parsers.log";
        open STDERR, '>>', "$t->{dir}/parsers.log";
        exec @cmd or exit 127;
    }
    push @{ $t->{pids} }, $pid;
}

# starts every parser; returns { php => port, py => ..., go => ..., node }
sub start_parsers {
    my ($t) = @_;
    my $root = $UFTest::ROOT;
    my %p = map { $_ => UFTest::free_port() } qw(php py go node);

    _spawn($t, { PHP_FCGI_CHILDREN => 4, PHP_FCGI_MAX_REQUESTS => 0 },
           'php-cgi', '-b', "127.0.0.1:$p{php}",
           '-d', 'cgi.force_redirect=0', '-d', 'upload_max_filesize=64M',
           '-d', 'post_max_size=64M', '-d', 'max_file_uploads=200',
           '-d', 'max_input_vars=10000', '-d', 'display_errors=0');
    _spawn($t, {}, $PY, "$root/t/diff/py_parsers.py", $p{py});
    _spawn($t, {}, "$root/build/diff/goparser", $p{go});
    _spawn($t, { NODE_PATH => "$root/build/npm/node_modules" },
           'node', "$root/t/diff/busboy_server.js", $p{node});

    UFTest::wait_port($p{$_}) for sort keys %p;
    return \%p;
}

# the locations: /on/<parser>/ and /off/<parser>/
sub nginx_locations {
    my ($p) = @_;
    my $php = "$UFTest::ROOT/t/diff/report.php";
    my $conf = '';
    for my $f ('on', 'off') {
        $conf .= <<"NGINX";
        location /$f/php/ {
            upload_filter $f;
            fastcgi_pass 127.0.0.1:$p->{php};
            fastcgi_param SCRIPT_FILENAME $php;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param CONTENT_TYPE \$content_type;
            fastcgi_param CONTENT_LENGTH \$content_length;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_param SERVER_PROTOCOL \$server_protocol;
            fastcgi_param HTTP_CONTENT_ENCODING \$http_content_encoding;
        }
        location /$f/werkzeug/ {
            upload_filter $f;
            proxy_pass http://127.0.0.1:$p->{py}/werkzeug/;
        }
        location /$f/cgi/ {
            upload_filter $f;
            proxy_pass http://127.0.0.1:$p->{py}/cgi/;
        }
        location /$f/multipart/ {
            upload_filter $f;
            proxy_pass http://127.0.0.1:$p->{py}/multipart/;
        }
        location /$f/go/ {
            upload_filter $f;
            proxy_pass http://127.0.0.1:$p->{go};
        }
        location /$f/busboy/ {
            upload_filter $f;
            proxy_pass http://127.0.0.1:$p->{node};
        }
NGINX
    }
    return $conf;
}

# --- the variants ------------------------------------------------------------

my $B = 'XbOuNd4ry9';
my $CD = 'Content-Disposition: form-data; name="up"; filename="f.bin"';

# a request: [name, [header => value, ...], body]
sub _req { my ($name, $body, @h) = @_; return [$name, \@h, $body] }

sub _ct { return ('Content-Type' => $_[0]) }

sub _show {
    (my $s = shift) =~ s/([^ -~])/sprintf '\\x%02x', ord $1/ge;
    return $s;
}

# a multipart body (a field, then the file) from pieces the classes alter
sub _body {
    my (%o) = @_;
    my $nl = $o{nl} // "\r\n";              # after delimiters
    my $hnl = $o{hnl} // $nl;               # after header lines
    my $pad = $o{pad} // '';                # after the dash-boundary
    my $b = $o{b} // $B;
    my $decoy = "--$b$pad$nl"
              . "Content-Disposition: form-data; name=\"note\"$hnl$hnl"
              . "hello$nl";
    my $file = "--$b$pad$nl"
             . ($o{headers} // "$CD$hnl"
                               . "Content-Type: application/octet-stream$hnl")
             . $hnl . $o{data} . $nl;
    my @parts = $o{listed_first} ? ($file, $decoy) : ($decoy, $file);
    return ($o{prefix} // '') . join('', @parts)
         . "--$b--" . ($o{close} // $nl) . ($o{epilogue} // '');
}

# every class of the issue, each alone
sub _classes {
    my ($L) = @_;
    my $ct = "multipart/form-data; boundary=$B";
    my @v;

    push @v, _req('canonical', _body(data => $L), _ct($ct));

    # 1. text before the first delimiter
    for my $pre ("\n", "\r", " ", "\t", "\xef\xbb\xbf", "pre\n", "pre\r\n",
                 "--", "\r\n\r\n", "$B\r\n") {
        push @v, _req("prefix '" . _show($pre) . "'",
                      _body(data => $L, prefix => $pre), _ct($ct));
    }

    # 2. line endings other than CRLF
    for my $nl ("\n", "\r") {
        for my $h ("\r\n", $nl) {
            push @v, _req('delimiters ending ' . _show($nl) . ', headers '
                          . _show($h),
                          _body(data => $L, nl => $nl, hnl => $h), _ct($ct));
        }
    }
    push @v, _req('headers ending LF', _body(data => $L, hnl => "\n"),
                  _ct($ct));

    # transport padding
    for my $pad (' ', "\t", " \t ") {
        push @v, _req("padding '" . _show($pad) . "'",
                      _body(data => $L, pad => $pad), _ct($ct));
    }

    # 3. one CRLF doing two jobs
    push @v, _req('empty headers then a delimiter',
                  "--$B\r\n\r\n--$B\r\n$CD\r\n\r\n$L\r\n--$B--\r\n", _ct($ct));
    push @v, _req('empty headers, LF, then a delimiter',
                  "--$B\r\n\r\n\n--$B\r\n$CD\r\n\r\n$L\r\n--$B--\r\n",
                  _ct($ct));

    # 4. the epilogue
    for my $close ("\r\n", "\n", "", "junk\r\n", "--\r\n", " \r\n") {
        push @v, _req("a part after the closing delimiter ('"
                      . _show($close) . "')",
                      "--$B\r\n\r\nx\r\n--$B--$close--$B\r\n$CD\r\n\r\n$L"
                      . "\r\n--$B--\r\n", _ct($ct));
    }
    push @v, _req('two closing delimiters in one read',
                  "--$B\r\n\r\nx\r\n--$B--\r\n--$B--\r\n--$B\r\n$CD\r\n\r\n"
                  . "$L\r\n--$B--\r\n", _ct($ct));
    push @v, _req('the file as the epilogue',
                  "--$B\r\n\r\nx\r\n--$B--\r\n$L", _ct($ct));
    push @v, _req('the file as the preamble',
                  "$L\r\n--$B\r\n\r\nx\r\n--$B--\r\n", _ct($ct));

    # 5. the boundary parameter
    my $alt = 'other0bound';
    my %bct = (
        'quoted' => qq{multipart/form-data; boundary="$B"},
        'quoted pair' => qq{multipart/form-data; boundary="X\\"$B"},
        'upper case name' => "multipart/form-data; BOUNDARY=$B",
        'first of two' => "multipart/form-data; boundary=$B; boundary=$alt",
        'last of two' => "multipart/form-data; boundary=$alt; boundary=$B",
        'case twins' => "multipart/form-data; Boundary=$alt; boundary=$B",
        'RFC 2231' => "multipart/form-data; boundary*=utf-8''$B",
        'RFC 2231 continued' => "multipart/form-data; boundary*0=$B",
        'xboundary' => "multipart/form-data; xboundary=$B; boundary=$alt",
        'in a quoted value' =>
            qq{multipart/form-data; x="boundary=$B"; boundary=$alt},
        'in a value only' => qq{multipart/form-data; x="a;boundary=$B"},
        'trailing semicolon' => "multipart/form-data; boundary=$B;",
        'comma after' => "multipart/form-data; boundary=$B, text/plain",
        'space before =' => "multipart/form-data; boundary =$B",
        'no space' => "multipart/form-data;boundary=$B",
        'quote inside' => qq{multipart/form-data; boundary=$B"},
    );
    for my $k (sort keys %bct) {
        push @v, _req("boundary: $k", _body(data => $L), _ct($bct{$k}));
        push @v, _req("boundary: $k (body with the other)",
                      _body(data => $L, b => $alt), _ct($bct{$k}))
            if $bct{$k} =~ /$alt/;
    }

    # 6. the media type
    for my $mt ("\x0bmultipart/form-data", "\xa0multipart/form-data",
                "\xc2\xa0multipart/form-data", "Multipart/Form-Data",
                "multipart/mixed", "application/x-multipart",
                "text/multipart", "multipart/form-data\x0b",
                "multipart/form-data ") {
        push @v, _req("media type '" . _show($mt) . "'", _body(data => $L),
                      _ct("$mt; boundary=$B"));
    }
    push @v, _req('two Content-Type headers', _body(data => $L),
                  'Content-Type' => 'text/plain', _ct($ct));

    # 7. what applications decode
    (my $b64 = encode_base64($L)) =~ s/\n/\r\n/g;
    $b64 =~ s/\r\n\z//;
    (my $qp = encode_qp($L, "\r\n", 1)) =~ s/\r\n\z//;
    push @v, _req('part base64', _body(data => $b64, headers =>
                  "$CD\r\nContent-Transfer-Encoding: base64\r\n"), _ct($ct));
    push @v, _req('part quoted-printable', _body(data => $qp, headers =>
                  "$CD\r\nContent-Transfer-Encoding: quoted-printable\r\n"),
                  _ct($ct));
    push @v, _req('multipart in a part', _body(
                  data => "--in\r\n$CD\r\n\r\n$L\r\n--in--",
                  headers => "Content-Disposition: form-data; name=\"up\"\r\n"
                             . "Content-Type: multipart/mixed; boundary=in\r\n"),
                  _ct($ct));
    my ($gz, $gzraw, $mp) = ('', '', _body(data => $L));
    gzip(\$mp => \$gz) or die $GzipError;
    gzip(\$L => \$gzraw) or die $GzipError;
    push @v, _req('gzip body', $gz, _ct($ct), 'Content-Encoding' => 'gzip');
    push @v, _req('gzip raw body', $gzraw, 'Content-Encoding' => 'gzip');
    (my $pct = $L) =~ s/([^A-Za-z0-9])/sprintf '%%%02X', ord $1/ge;
    push @v, _req('urlencoded value', "a=b&up=$pct&c=d",
                  _ct('application/x-www-form-urlencoded'));
    push @v, _req('urlencoded, with a charset', "up=$pct",
                  _ct('application/x-www-form-urlencoded; charset=UTF-8'));
    push @v, _req('urlencoded, type with a vertical tab', "up=$pct",
                  _ct("\x0bapplication/x-www-form-urlencoded"));
    (my $b64l = encode_base64($L)) =~ s/\n//g;
    push @v, _req('json base64', qq({"up": "$b64l"}), _ct('application/json'));
    push @v, _req('json base64, typed text/plain', qq({"up": "$b64l"}),
                  _ct('text/plain'));
    push @v, _req('json data: URI, no type',
                  qq([{"up": "data:image/jpeg;base64,$b64l"}]));
    push @v, _req('raw body', $L, _ct('application/octet-stream'));
    push @v, _req('raw body, no type', $L);

    # part headers
    push @v, _req('folded disposition', _body(data => $L, headers =>
                  "Content-Disposition: form-data;\r\n name=\"up\"; "
                  . "filename=\"f\"\r\n"), _ct($ct));
    push @v, _req('two dispositions', _body(data => $L, headers =>
                  "Content-Disposition: form-data; name=\"a\"\r\n$CD\r\n"),
                  _ct($ct));
    push @v, _req('filename with a quote', _body(data => $L, headers =>
                  "Content-Disposition: form-data; name=\"up\"; "
                  . "filename=\"a\\\"b\"\r\n"), _ct($ct));
    push @v, _req('no disposition', _body(data => $L, headers => ''),
                  _ct($ct));
    push @v, _req('9 KB file name', _body(data => $L, headers =>
                  "Content-Disposition: form-data; name=\"up\"; filename=\""
                  . ('n' x 9000) . "\"\r\n"), _ct($ct));
    push @v, _req('listed first', _body(data => $L, listed_first => 1),
                  _ct($ct));

    return @v;
}

# the classes, then combinations of them and random mutations, by seed
sub variants {
    my ($L, %o) = @_;
    my @v = _classes($L);
    my $n = $o{random} // 0;
    srand($o{seed} // 1);

    my @pre = ('', "\n", "\r\n", ' ', 'x');
    my @nl = ("\r\n", "\n");
    my @pad = ('', ' ');
    my @close = ("\r\n", '', "\n", "x\r\n");
    my $ct = "multipart/form-data; boundary=$B";

    for my $i (1 .. $n) {
        my $kind = $i % 3;
        if ($kind == 0) {
            my %b = (data => $L, prefix => $pre[rand @pre],
                     nl => $nl[rand @nl], hnl => $nl[rand @nl],
                     pad => $pad[rand @pad], close => $close[rand @close],
                     listed_first => int rand 2);
            $b{epilogue} = "--$B\r\n$CD\r\n\r\n$L\r\n--$B--\r\n"
                if rand() < 0.3;
            push @v, _req("combination $i", _body(%b), _ct($ct));
            next;
        }

        # a mutation of a valid body, in its framing (never inside the file)
        my $body = _body(data => $L, listed_first => $kind == 1);
        my $name = "mutation $i:";
        for (1 .. 1 + int rand 3) {
            my $at = index $body, $L;
            my $pos = int rand(length($body) - length $L);
            $pos += length $L if $pos >= $at;
            my @bytes = ("\r", "\n", '-', ' ', '"', ';', chr(int rand 256));
            my $c = $bytes[rand @bytes];
            my $op = int rand 3;
            if ($op == 0) { substr($body, $pos, 1) = $c; $name .= " set $pos" }
            elsif ($op == 1) { substr($body, $pos, 0) = $c; $name .= " ins $pos" }
            else { substr($body, $pos, 1) = ''; $name .= " del $pos" }
        }
        push @v, _req($name, $body, _ct($ct));
    }

    return @v;
}

# sends one variant to one parser through /on/ or /off/; returns
# (status, [digests the parser reported])
sub run_variant {
    my ($t, $v, $parser, $filter) = @_;
    my ($name, $h, $body) = @$v;
    my $req = "POST /$filter/$parser/up HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\n";
    my @h = @$h;
    while (my ($k, $val) = splice @h, 0, 2) {
        $req .= "$k: $val\r\n";
    }
    $req .= "Content-Length: " . length($body) . "\r\n\r\n" . $body;
    my $resp = $t->raw($req, timeout => 10);
    my $status = UFTest::status($resp);
    my (undef, $rbody) = split /\r\n\r\n/, $resp, 2;
    my @d = ($rbody // '') =~ /^([0-9a-f]{64}) /mg;
    return ($status, \@d);
}

1;
