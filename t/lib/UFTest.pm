package UFTest;

# The test harness: a scratch directory, a real hash set made with the
# hashdb tool, a recording upstream (t/upstream.pl), and a real nginx
# started from t/nginx.conf.tmpl with the module loaded.  When a test
# ends, nginx is stopped and its error.log (and any sanitizer report) is
# checked: an alert, crit or emerg line, or a sanitizer report, fails
# the test.
#
# UF_BUILD=build-asan runs everything against the sanitizer builds.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::MD5 qw(md5_hex);
use Digest::SHA qw(sha1_hex sha256_hex);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(sha256_hex sha1_hex md5_hex multipart);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $BUILD = "$ROOT/" . ($ENV{UF_BUILD} || 'build');
our $ASAN = ($ENV{UF_BUILD} || '') =~ /asan/;

my @instances;

sub new {
    my ($class, %opt) = @_;
    my $dir = tempdir('uf-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    my $self = bless { dir => $dir, db => "$dir/hashset", pids => [],
                       opt => \%opt }, $class;
    make_path("$dir/records", "$dir/html", "$dir/dav");
    push @instances, $self;
    return $self;
}

sub dir { $_[0]{dir} }
sub db { $_[0]{db} }

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    make_path(dirname($path));
    open my $f, '>', $path or die "$path: $!";
    binmode $f;
    print $f $content;
    close $f;
    return $path;
}

sub read_file {
    my ($self, $name) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $f, '<', $path or return undef;
    binmode $f;
    local $/;
    return scalar <$f>;
}

# runs the hashdb tool: returns (exit code, stdout, stderr)
sub hashdb {
    my ($self, @args) = @_;
    my $stdin = ref $args[-1] eq 'SCALAR' ? ${ pop @args } : undef;
    my $out = "$self->{dir}/.out";
    my $err = "$self->{dir}/.err";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        if (defined $stdin) {
            open my $in, '<', \$stdin;
            my $tmp = "$self->{dir}/.in";
            open my $f, '>', $tmp; binmode $f; print $f $stdin; close $f;
            open STDIN, '<', $tmp or die;
        }
        open STDOUT, '>', $out or die;
        open STDERR, '>', $err or die;
        exec "$BUILD/hashdb", @args or exit 127;
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    return ($rc, $self->read_file($out) // '', $self->read_file($err) // '');
}

# creates the hash set and imports lines of hex digests into a source
sub listed {
    my ($self, %o) = @_;
    my $source = $o{source} // 'test-list';
    if (!-e "$self->{db}/data.mdb") {
        my ($rc, $out, $err) = $self->hashdb('init', $self->{db});
        die "hashdb init: $err" if $rc;
    }
    my @args = ('import', $self->{db}, '--source', $source, '--unsigned');
    push @args, '--category', $o{category} if $o{category};
    push @args, '--format', $o{format} if $o{format};
    my $lines = join '', map { "$_\n" } @{ $o{lines} };
    my ($rc, $out, $err) = $self->hashdb(@args, '-', \$lines);
    die "hashdb import: $err" if $rc;
    return $self;
}

# an altered copy of a benign JPEG (t/unit/jpeg_transform.c) in the test
# directory; returns its bytes
sub jpeg_transform {
    my ($self, $in, $out, @op) = @_;
    my $jt = "$BUILD/unit/jpeg_transform";
    $jt = "build/unit/jpeg_transform" unless -x $jt;
    system($jt, $in, "$self->{dir}/$out", @op) == 0
        or die "jpeg_transform @op";
    return $self->read_file($out);
}

# the PDQ hash "hashdb hash @args FILE" prints
sub pdq_hash {
    my ($self, @args) = @_;
    my ($rc, $out) = $self->hashdb('hash', @args);
    my ($pdq) = $out =~ /^pdq:([0-9a-f]{64})/m or die "no PDQ hash: $out";
    return $pdq;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die $!;
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub wait_port {
    my ($port) = @_;
    for (1 .. 200) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port);
        return 1 if $s;
        sleep 0.05;
    }
    die "nothing listens on port $port\n";
}

sub start_upstream {
    my ($self, $mode) = @_;
    $mode //= 'http';
    my $port = free_port();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        exec $^X, "$ROOT/t/upstream.pl", $mode, $port, "$self->{dir}/records"
            or exit 127;
    }
    push @{ $self->{pids} }, $pid;
    wait_port($port);
    # wait_port's own connection left a marker: wait for it, then drop it
    for (1 .. 100) {
        last if glob "$self->{dir}/records/conn-*";
        sleep 0.02;
    }
    $self->clear_records;
    $self->{upstream} = $port;
    return $port;
}

# the config: t/nginx.conf.tmpl with %%HTTP%% replaced by $http
sub conf {
    my ($self, $http, %o) = @_;
    my $tmpl = $self->read_file("$ROOT/t/nginx.conf.tmpl");
    $self->{port} //= free_port();
    $self->{port2} //= free_port();
    my %v = (
        HTTP     => $http,
        MODULE   => "$BUILD/ngx_http_upload_filter_module.so",
        DIR      => $self->{dir},
        DB       => $o{db} // $self->{db},
        PORT     => $self->{port},
        PORT2    => $self->{port2},
        UPSTREAM => $self->{upstream} // 1,
        USER     => $o{user} // ($> == 0 ? 'user root;' : ''),
    );
    $tmpl =~ s/^\s*upload_filter_db .*$//m if $o{no_db};
    $tmpl =~ s/^worker_processes 1;/worker_processes $o{workers};/m if $o{workers};
    1 while $tmpl =~ s/%%(\w+)%%/exists $v{$1} ? $v{$1} : die "no $1"/e;
    return $self->write_file('nginx.conf', $tmpl);
}

# the environment nginx needs to load the sanitizer build of the module
sub sanitizer_env {
    my ($self) = @_;
    return () unless $ASAN;
    my $lib = `gcc -print-file-name=libasan.so`;
    chomp $lib;
    return (LD_PRELOAD => $lib,
            ASAN_OPTIONS => "detect_leaks=0:log_path=$self->{dir}/asan",
            UBSAN_OPTIONS => "print_stacktrace=1:log_path=$self->{dir}/ubsan");
}

# the server block most tests need: the filter on, "location /" proxying
# to the recording upstream.  %o: http2 (a second listener, HTTP/2 on
# %%PORT2%%), h2only (the one listener speaks HTTP/2), server (more
# directives of the server), location (more directives of "location /"),
# proxied (pairs of a prefix and its directives: more locations that
# proxy to the upstream), locations (more location blocks, verbatim)
sub proxy_server {
    my (%o) = @_;
    my $in = sub { join '', map { "$_[1]$_\n" } grep { length } split /\n/, $_[0] // '' };
    my $pass = "            proxy_pass http://127.0.0.1:%%UPSTREAM%%;\n";
    my @proxied = @{ $o{proxied} // [] };
    my $more = '';
    while (my ($prefix, $directives) = splice @proxied, 0, 2) {
        $more .= "\n        location $prefix {\n"
               . $in->($directives, '            ') . $pass . "        }\n";
    }
    return "    server {\n"
         . "        listen 127.0.0.1:%%PORT%%" . ($o{h2only} ? ' http2' : '') . ";\n"
         . ($o{http2} ? "        listen 127.0.0.1:%%PORT2%% http2;\n" : '')
         . $in->($o{server}, '        ')
         . "        upload_filter on;\n\n"
         . "        location / {\n"
         . $in->($o{location}, '            ')
         . $pass
         . "        }\n"
         . $more
         . ($o{locations} // '')
         . "    }\n";
}

# nginx -t: (exit code, output)
sub nginx_test {
    my ($self, $http, %o) = @_;
    my $conf = $self->conf($http, %o);
    local %ENV = (%ENV, $self->sanitizer_env);
    my $out = `nginx -t -p $self->{dir} -c $conf -e $self->{dir}/stderr.log 2>&1`;
    return ($? >> 8, $out);
}

sub start_nginx {
    my ($self, $http, %o) = @_;
    my $conf = $self->conf($http, %o);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        %ENV = (%ENV, $self->sanitizer_env);
        open STDERR, '>>', "$self->{dir}/stderr.log";
        # $o{wrap}: a command nginx runs under (prlimit ...)
        exec @{ $o{wrap} // [] }, 'nginx', '-p', $self->{dir}, '-c', $conf,
             '-e', "$self->{dir}/stderr.log" or exit 127;
    }
    $self->{nginx} = $pid;
    eval { wait_port($self->{port}) };
    if ($@) {
        diag($self->read_file('stderr.log') // '');
        die $@;
    }
    return $self->{port};
}

# SIGHUP, then waits until every worker is a new one: the new
# configuration (and the hash set it names) is then what answers
sub reload_nginx {
    my ($self) = @_;
    my %old = map { $_ => 1 } $self->worker_pids;
    kill 'HUP', $self->{nginx};
    for (1 .. 200) {
        my @now = $self->worker_pids;
        last if @now && !grep { $old{$_} } @now;
        sleep 0.05;
    }
}

sub worker_pids {
    my ($self) = @_;
    return () unless $self->{nginx};
    return `pgrep -P $self->{nginx}` =~ /(\d+)/g;
}

sub stop_nginx {
    my ($self) = @_;
    my $pid = delete $self->{nginx} or return;
    kill 'QUIT', $pid;
    for (1 .. 100) {
        last if waitpid($pid, WNOHANG) != 0;
        sleep 0.05;
    }
    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
}

sub error_log {
    my ($self) = @_;
    return $self->read_file('error.log') // '';
}

sub access_log {
    my ($self) = @_;
    return $self->read_file('access.log') // '';
}

# a file of the test directory once it matches $re, or as it is after
# waiting (briefly) for that
sub wait_file {
    my ($self, $name, $re) = @_;
    my $text;
    for (1 .. 40) {
        $text = $self->read_file($name) // '';
        last if $text =~ $re;
        sleep 0.05;
    }
    return $text;
}

# waits (briefly) until the error log matches
sub wait_log {
    my ($self, $re) = @_;
    return $self->wait_file('error.log', $re) =~ $re ? 1 : 0;
}

# like(access_log, $re, $name), waiting (briefly) for the line: nginx
# writes it when the request is freed, which can come after the client
# has read the response
sub like_access {
    my ($self, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($self->wait_file('access.log', $re), $re, $name);
}

# what the upstream received, oldest first: [{method, uri, head, body}]
sub records {
    my ($self) = @_;
    opendir my $d, "$self->{dir}/records" or return ();
    my @names = sort grep { /^req-/ } readdir $d;
    my @r;
    for my $n (@names) {
        my $raw = $self->read_file("records/$n");
        my ($head, $body) = split /\n\n/, $raw, 2;
        my ($method, $uri) = $head =~ /^(\S+) (\S*)/;
        push @r, { method => $method, uri => $uri, head => $head,
                   body => $body };
    }
    return @r;
}

# how many connections the upstream accepted
sub connections {
    my ($self) = @_;
    my @c = glob "$self->{dir}/records/conn-*";
    return scalar @c;
}

sub clear_records {
    my ($self) = @_;
    unlink glob("$self->{dir}/records/req-*"), glob("$self->{dir}/records/conn-*");
}

# sends raw bytes (an array ref sends pieces with a pause between them),
# returns everything read until the server closes or $timeout passes;
# from => '127.0.0.N' connects from another loopback address (a client)
sub raw {
    my ($self, $data, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $o{port} // $self->{port},
                                  $o{from} ? (LocalAddr => $o{from}) : ())
        or die "connect: $!";
    binmode $s;
    local $SIG{PIPE} = 'IGNORE';
    for my $piece (ref $data ? @$data : ($data)) {
        syswrite $s, $piece;
        sleep($o{pause} // 0.2) if ref $data;
    }
    my $resp = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + ($o{timeout} // $self->{timeout} // 5);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $s, $resp, 65536, length $resp;
        last unless $n;
        last if $o{until} && $resp =~ $o{until};
    }
    close $s;
    return $resp;
}

# a whole HTTP/1.1 request with a Content-Length body
sub request {
    my ($self, $method, $uri, $body, %h) = @_;
    my $req = "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: close\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= "Content-Length: " . length($body) . "\r\n" if defined $body;
    $req .= "\r\n";
    $req .= $body if defined $body;
    return $self->raw($req);
}

# a response's status, and what the upstream got: exactly $forwarded
# (one request), or, when $forwarded is undef, no connection at all
sub expect {
    my ($self, $resp, $status, $forwarded, $what) = @_;
    is(status($resp), $status, "$what: $status");
    my @r = $self->records;
    if (defined $forwarded) {
        ok(@r == 1 && $r[0]{body} eq $forwarded, "$what: upstream got the same bytes");
    } else {
        is($self->connections, 0, "$what: upstream never connected");
    }
    $self->clear_records;
}

sub status {
    my ($resp) = @_;
    return $resp =~ m{^HTTP/1\.[01] (\d+)} ? $1 : 0;
}

# a multipart/form-data body: parts are [name, filename|undef, content]
# a body in chunked transfer coding, in chunks of $size bytes
sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $c = substr $body, $i, $size;
        $out .= sprintf("%x\r\n", length $c) . "$c\r\n";
    }
    return $out . "0\r\n\r\n";
}

sub multipart {
    my ($boundary, @parts) = @_;
    my $body = '';
    for my $p (@parts) {
        my ($name, $filename, $content) = @$p;
        $body .= "--$boundary\r\nContent-Disposition: form-data; name=\"$name\"";
        $body .= "; filename=\"$filename\"" if defined $filename;
        $body .= "\r\nContent-Type: application/octet-stream" if defined $filename;
        $body .= "\r\n\r\n$content\r\n";
    }
    return $body . "--$boundary--\r\n";
}

# the first worker's pid, open file descriptors and resident memory (KiB)
sub worker_stats {
    my ($self) = @_;
    my ($pid) = `pgrep -P $self->{nginx}` =~ /(\d+)/;
    return () unless $pid;
    opendir my $d, "/proc/$pid/fd" or return ();
    my $fds = grep { /^\d+$/ } readdir $d;
    my ($rss) = ($self->read_file("/proc/$pid/status") // '') =~ /VmRSS:\s+(\d+)/;
    return ($pid, $fds, $rss);
}

# stops everything and checks the logs for what must never appear;
# each test calls it before done_testing
sub finish {
    my ($self) = @_;
    return if $self->{finished}++;
    $self->stop_nginx;
    for my $pid (@{ $self->{pids} }) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
    my $log = $self->error_log;
    my @bad = grep { (/\[(alert|crit|emerg)\]/ || /exited on signal/)
                     && !$self->{opt}{allow_alert} }
              split /\n/, $log;
    ok(!@bad, 'no alert, crit or emerg in error.log, no worker crashed')
        or diag(join "\n", @bad);
    my @san = (glob("$self->{dir}/asan*"), glob("$self->{dir}/ubsan*"));
    my $stderr = $self->read_file('stderr.log') // '';
    push @san, 'stderr' if $stderr =~ /runtime error|AddressSanitizer/;
    ok(!@san, 'no sanitizer report')
        or diag(join "\n", map { $self->read_file($_) // $stderr } @san);
}

# a test that died still leaves no processes behind
END {
    for my $t (@instances) {
        $t->stop_nginx;
        kill 'TERM', @{ $t->{pids} } if @{ $t->{pids} };
    }
}

1;
