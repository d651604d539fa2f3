#!/usr/bin/perl
# The Debian packages, as an operator meets them: installed with apt into
# this machine's nginx, the module enabled the Debian way (modules-enabled),
# the user and the empty hash set made by the package, a listed stand-in
# blocked and a clean upload passed by the system's nginx binary and
# /etc/nginx configuration, then both packages purged and nothing of them
# left.  It changes the system: "make test-package" runs it (CI does),
# "make test" does not.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest qw(sha256_hex);

plan skip_all => 'needs root (it installs packages)' if $> != 0;
my ($mod) = glob "$UFTest::BUILD/deb/libnginx-mod-http-upload-filter_*.deb";
my ($tools) = glob "$UFTest::BUILD/deb/upload-filter-tools_*.deb";
plan skip_all => 'no packages: make deb' unless $mod && $tools;

my @pkgs = qw(libnginx-mod-http-upload-filter upload-filter-tools);
my $set = '/var/lib/upload-filter/hashset';
my $site = '/etc/nginx/conf.d/upload-filter-test.conf';

sub sh {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

sub apt {
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    return sh("apt-get -y -q @_");
}

sub installed {
    my ($p) = @_;
    my ($rc, $out) = sh("dpkg-query -W -f='\${db:Status-Abbrev}' $p");
    return $rc == 0 && $out =~ /^ii/;
}

# what each package puts on the system, and what its scripts make
my @files = (
    '/usr/lib/nginx/modules/ngx_http_upload_filter_module.so',
    '/usr/share/nginx/modules-available/mod-http-upload-filter.conf',
    '/usr/share/man/man5/ngx_http_upload_filter_module.5.gz',
    '/usr/bin/hashdb',
    '/usr/libexec/upload-filter/upload-filter-sync',
    '/lib/systemd/system/upload-filter-sync@.service',
    '/lib/systemd/system/upload-filter-sync@.timer',
    '/usr/share/man/man1/hashdb.1.gz',
    '/usr/share/bash-completion/completions/hashdb',
    '/etc/upload-filter/sources',
    $set,
);
my $link = '/etc/nginx/modules-enabled/50-mod-http-upload-filter.conf';

my $t = UFTest->new;
my $dir = $t->dir;

END {
    local $?;
    unlink $site;
    apt('purge', @pkgs) if grep { installed($_) } @pkgs;
}

# a machine where an earlier run stopped half-way
apt('purge', @pkgs) if grep { installed($_) } @pkgs;

my ($rc, $out) = apt('install', $mod, $tools);
is($rc, 0, 'apt installs both packages') or diag $out;
ok(installed($_), "$_ is installed") for @pkgs;
ok(-e $_, "it put $_ there") for @files;
is(readlink($link), '/usr/share/nginx/modules-available/mod-http-upload-filter.conf',
   'the module is enabled: modules-enabled links its load file');
like($t->read_file('/usr/share/nginx/modules-available/mod-http-upload-filter.conf'),
     qr{^load_module modules/ngx_http_upload_filter_module\.so;$}m,
     'which loads it from nginx\'s modules directory');
like((sh('dpkg-query -W -f=\'${Depends}\' libnginx-mod-http-upload-filter'))[1],
     qr/nginx-abi-1\.22\.1-\d+/, 'the module depends on the ABI of the nginx it was built for');

my @pw = getpwnam('upload-filter');
ok(@pw, 'the package made the system user upload-filter');
like($pw[8] // '', qr{/(nologin|false)$}, 'without a login shell');
{
    my @st = stat $set;
    is(sprintf('%o', $st[2] & 07777), '750', 'the hash set directory is 0750');
    is((getpwuid $st[4])[0], 'upload-filter', 'owned by upload-filter');
    is((getgrgid $st[5])[0], 'www-data', 'group www-data: nginx\'s workers');
    my @lk = stat "$set/lock.mdb";
    is(sprintf('%o', $lk[2] & 0777), '660', 'workers may register as readers in lock.mdb');
}
($rc, $out) = sh("hashdb stats $set");
ok($rc == 0 && $out =~ /the set is empty/, 'the empty hash set opens') or diag $out;
($rc, $out) = sh('man -w hashdb ngx_http_upload_filter_module');
is($rc, 0, 'man finds hashdb(1) and ngx_http_upload_filter_module(5)') or diag $out;
($rc, $out) = sh('/usr/sbin/nginx -t');
is($rc, 0, 'nginx -t passes with the module loaded into the system\'s configuration')
    or diag $out;

# the operator lists a stand-in, as the updater would (its user, its group)
my $listed = "stand-in for a listed file, package test\n";
$t->write_file('listed.txt', $listed);
$t->write_file('list.txt', sha256_hex($listed) . "\n");
chmod 0644, "$dir/listed.txt", "$dir/list.txt";
($rc, $out) = sh("runuser -u upload-filter -g www-data -- hashdb import $set"
                 . " --source pkg-test --unsigned $dir/list.txt");
is($rc, 0, 'hashdb import, as upload-filter, into the packaged set') or diag $out;

# the system's nginx: its binary and /etc/nginx/nginx.conf (workers as
# www-data, modules-enabled, conf.d), our server in conf.d on a loopback
# port; the default site (port 80, every address) left out
my $up = $t->start_upstream;
my $port = UFTest::free_port();
$t->{port} = $port;
open my $fh, '>', $site or die "$site: $!";
print $fh <<"EOF";
# upload-filter's package test (t/package/); removed when it ends
upload_filter_db $set;
server {
    listen 127.0.0.1:$port;
    client_body_buffer_size 1m;
    # Debian's nginx.conf logs at "error": the match lines are "warn"
    error_log $dir/uploads.log warn;
    location / {
        upload_filter on;
        proxy_pass http://127.0.0.1:$up;
    }
    location /lists/ {
        root $dir/html;
    }
}
EOF
close $fh;
($rc, $out) = sh('/usr/sbin/nginx -t');
is($rc, 0, 'nginx -t passes with upload_filter on in /etc/nginx/conf.d') or diag $out;

my $conf = $t->read_file('/etc/nginx/nginx.conf');
$conf =~ s{^\s*include /etc/nginx/sites-enabled/\*;.*$}{}m;
$conf =~ s{^pid .*$}{pid $dir/nginx.pid;}m;
$conf =~ s{^error_log .*$}{error_log $dir/error.log;}m
    or $conf = "error_log $dir/error.log;\n$conf";
$conf =~ s{access_log [^;]*;}{access_log $dir/access.log;};
$t->write_file('nginx.conf', $conf);
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    exec '/usr/sbin/nginx', '-c', "$dir/nginx.conf", '-g', 'daemon off;' or exit 127;
}
$t->{nginx} = $pid;
UFTest::wait_port($port);

$t->expect($t->request('PUT', '/upload', $listed), 403, undef,
           'the listed stand-in, through the system nginx');
like($t->wait_file('uploads.log', qr/upload_filter: match/),
     qr/upload_filter: match action=block digest=sha256:\Q${\ sha256_hex($listed)}\E source="pkg-test"/,
     'the match is logged with its digest and source');
my $clean = "a clean upload\n" x 100;
$t->expect($t->request('PUT', '/upload', $clean), 200, $clean, 'a clean upload');
my $form = UFTest::multipart('b0undary', ['file', 'listed.txt', $listed]);
$t->expect($t->request('POST', '/form', $form,
                       'Content-Type' => 'multipart/form-data; boundary=b0undary'),
           403, undef,
           'the stand-in as a multipart part');

# the daily job as its unit runs it: upload-filter-sync@pkg-sync.service
# (user upload-filter, group www-data, umask 0027, the source's settings
# as its environment) fetches a signed list from this nginx and syncs it;
# the next upload of what it lists is refused, with no reload
{
    my $second = "a second stand-in, listed by the daily job\n";
    $t->write_file('html/lists/full.txt', sha256_hex($second) . "\n");
    $t->hashdb('keygen', '--secret', "$dir/sk.pem", '--public', "$dir/pk.pem");
    chmod 0644, "$dir/pk.pem";
    $t->hashdb('sign', '--key', "$dir/sk.pem", '--source', 'pkg-sync',
               '--seq', 1, "$dir/html/lists/full.txt");
    ($rc, $out) = sh("runuser -u upload-filter -g www-data -- hashdb trust $set"
                     . " --source pkg-sync $dir/pk.pem");
    is($rc, 0, 'the publisher\'s key trusted for the source') or diag $out;
    $t->write_file('/etc/upload-filter/sources/pkg-sync.conf',
                   "LIST_URL=http://127.0.0.1:$port/lists/full.txt\n");
    ($rc, $out) = sh('systemd-analyze verify upload-filter-sync@pkg-sync.service'
                     . ' upload-filter-sync@pkg-sync.timer');
    ok($rc == 0 && $out !~ /\S/, 'systemd finds nothing wrong with the units')
        or diag $out;
    my $unit = $t->read_file('/lib/systemd/system/upload-filter-sync@.service');
    my ($exec) = $unit =~ /^ExecStart=(\S+) %i$/m;
    my ($env) = $unit =~ /^EnvironmentFile=(\S+)$/m;
    $env =~ s/%i/pkg-sync/;
    ($rc, $out) = sh("runuser -u upload-filter -g www-data -- sh -c"
                     . " 'set -a && . $env && set +a && umask 0027 && exec $exec pkg-sync'");
    is($rc, 0, 'the job fetches and syncs the signed list') or diag $out;
    like($out, qr/pkg-sync: sync of .*1 entr(y|ies) added/s, 'and says so') or diag $out;
    $t->expect($t->request('PUT', '/upload', $second), 403, undef,
               'what the job listed, at the next request');
    my @st = stat "$set/data.mdb";
    is((getgrgid $st[5])[0] . sprintf(' %o', $st[2] & 0777), 'www-data 640',
       'the set is still readable by the workers, and only by them');
}

$t->stop_nginx;
unlike($t->error_log . ($t->read_file('uploads.log') // ''),
       qr/\[(alert|crit|emerg)\]/, 'no alert in the error logs');
unlink $site;

# an upgrade (here: the same version again) keeps the operator's set and
# link; removing the module (not purging) disables it, installing it
# again enables it
($rc, $out) = apt('install', '--reinstall', $mod, $tools);
is($rc, 0, 'apt reinstalls both packages') or diag $out;
($rc, $out) = sh("hashdb lookup $set " . sha256_hex($listed));
ok($rc == 0 && $out =~ /pkg-test/, 'the hash set kept what was listed') or diag $out;
ok(-l $link, 'the module stays enabled');
($rc, $out) = apt('remove', 'libnginx-mod-http-upload-filter');
is($rc, 0, 'apt removes the module') or diag $out;
ok(!-e $link, 'removed: not enabled any more');
($rc, $out) = sh('/usr/sbin/nginx -t');
is($rc, 0, 'and nginx -t passes without it') or diag $out;
($rc, $out) = apt('install', $mod);
ok($rc == 0 && -l $link, 'installed again: enabled again') or diag $out;

# purge: nothing of either package is left, and nginx still starts
($rc, $out) = apt('purge', @pkgs);
is($rc, 0, 'apt purges both packages') or diag $out;
ok(!installed($_), "$_ is gone") for @pkgs;
ok(!-e $_ && !-l $_, "no $_") for @files, $link, "$link.removed",
                                   '/var/lib/upload-filter', '/etc/upload-filter',
                                   '/usr/libexec/upload-filter';
($rc, $out) = sh('dpkg -S upload-filter');
unlike($out, qr/^(libnginx-mod-http-upload-filter|upload-filter-tools)/m,
       'dpkg knows no file of them');
($rc, $out) = sh('/usr/sbin/nginx -t');
is($rc, 0, 'the system\'s nginx -t passes without the module') or diag $out;

done_testing;
