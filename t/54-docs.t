#!/usr/bin/perl
# The reference an operator reads: every directive nginx accepts has its
# section in README.md in nginx.org's style and in the manual page made
# from it, no section names a directive that does not exist, the manual
# pages render without a warning, hashdb(1)'s synopsis names every
# command, and the bash completion offers what the installed hashdb takes.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use UFTest;

my $t = UFTest->new;
my $root = $UFTest::ROOT;
my $readme = $t->read_file("$root/README.md");

# the directives, from the module's command table
my $src = $t->read_file("$root/ngx_module/ngx_http_upload_filter_module.c");
my @directives = $src =~ /^\s*\{ ngx_string\("(upload_filter\w*)"\),$/mg;
cmp_ok(scalar @directives, '>=', 27, 'the module has its directives') or diag "@directives";

my %documented;
while ($readme =~ /^#### (upload_filter\w*)\n\n    Syntax:  (\1\b[^\n]*;)\n    Default: ([^\n]+)\n    Context: ([a-z, ]+)\n\n(\S)/mg) {
    $documented{$1} = { syntax => $2, default => $3, context => $4 };
}
for my $d (@directives) {
    ok($documented{$d}, "README: $d has Syntax, Default, Context and a description");
}
my %real = map { $_ => 1 } @directives;
is_deeply([grep { !$real{$_} } sort keys %documented], [],
          'README documents no directive the module lacks');
{
    my @heads = $readme =~ /^#### (upload_filter\w*)$/mg;
    is(scalar @heads, scalar keys %documented, 'every directive heading is in the style');
}

# the contexts said are those the command table gives
{
    my %ctx;
    while ($src =~ /\{ ngx_string\("(upload_filter\w*)"\),\n\s*([^,]+),/mg) {
        my ($name, $flags) = ($1, $2);
        $ctx{$name} = join ', ', grep { $flags =~ /NGX_HTTP_\U$_\E_CONF\b/ }
                                 qw(main srv loc);
    }
    my %word = (main => 'http', srv => 'server', loc => 'location');
    for my $d (@directives) {
        next unless $documented{$d} && defined $ctx{$d};
        (my $want = $ctx{$d}) =~ s/(\w+)/$word{$1}/g;
        is($documented{$d}{context}, $want, "README: the context of $d");
    }
}

# the manual pages
system('make', '-s', '-C', $root, "BUILD=$UFTest::BUILD", 'man') == 0
    or BAIL_OUT('make man failed');
my $man5 = "$UFTest::BUILD/man/ngx_http_upload_filter_module.5";
my $man1 = "$UFTest::BUILD/man/hashdb.1";
for my $page ($man1, $man5) {
    my $err = `LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l $page 2>&1 >/dev/null`;
    is($err, '', "$page renders without a warning");
}
my $text5 = `LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l $man5 2>/dev/null`;
for my $d (@directives) {
    like($text5, qr/^\s+Syntax:\s+\Q$d\E\b/m, "the manual page has $d");
}

my $text1 = `LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l $man1 2>/dev/null`;
my ($synopsis) = $text1 =~ /^SYNOPSIS\n(.*?)^DESCRIPTION/ms;
my (undef, $help) = $t->hashdb('--help');
my @commands = map { split /\|/ } $help =~ /^  ([a-z][a-z|-]*) /mg;
cmp_ok(scalar @commands, '>=', 18, 'hashdb --help lists its commands');
for my $c (@commands) {
    like($synopsis // '', qr/\b\Q$c\E\b/, "hashdb(1)'s synopsis has $c");
}
like($text1, qr/^HASHDB\(1\).*^NAME\n\s+hashdb - /ms, 'hashdb(1) has its name line');

# the packages carry the release hashdb reports
{
    my ($cl) = $t->read_file("$root/debian/changelog") =~ /^upload-filter \(([^)]+)\)/;
    my (undef, $v) = $t->hashdb('--version');
    my ($hv) = $v =~ /^hashdb (\S+)/;
    is($cl, $hv, 'debian/changelog\'s version is hashdb --version\'s');
}

# bash completion, against the hashdb of this build
SKIP: {
    my $bc = '/usr/share/bash-completion/bash_completion';
    skip 'no bash-completion', 8 unless -r $bc;
    $t->hashdb('init', $t->db);
    $t->write_file('l.txt', "d41d8cd98f00b204e9800998ecf8427e\n");
    $t->hashdb('import', $t->db, '--source', 'police-nl', '--unsigned',
               $t->dir . '/l.txt');
    my $complete = sub {
        my ($line) = @_;
        my $script = $t->write_file('complete.sh', <<"EOF");
. $bc
. $root/deploy/hashdb.bash-completion
COMP_LINE='$line'
COMP_POINT=\${#COMP_LINE}
read -ra COMP_WORDS <<< "\$COMP_LINE"
[[ \$COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=\$(( \${#COMP_WORDS[@]} - 1 ))
_hashdb hashdb "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"
EOF
        local $ENV{PATH} = "$UFTest::BUILD:$ENV{PATH}";
        return join ' ', sort split /\n/, `bash $script 2>&1`;
    };
    my $all = $complete->('hashdb ');
    is_deeply([grep { $all !~ /(^| )\Q$_\E( |$)/ } @commands], [],
              'completion: every command of hashdb --help');
    is($complete->('hashdb sy'), 'sync', 'completion: a command from its start');
    like($complete->('hashdb sync --al'), qr/^--allow-shrink$/, 'completion: a command\'s option, from its --help');
    is($complete->('hashdb scan DB --sampling '), 'exact fast keyframes', 'completion: an option\'s values');
    is($complete->('hashdb sync ' . $t->db . ' --source '), 'police-nl',
       'completion: the sources of the hash set on the line');
    like($complete->('hashdb scan --'), qr/(^| )--cache( .*)? --files-from( |$)/, 'completion: scan\'s options');
    is($complete->('hashdb policy DB --action '), 'block log', 'completion: policy\'s actions');
    like($complete->('hashdb policy --'), qr/(^| )--all-categories --categories( .*)? --source( |$)/,
         'completion: policy\'s options');
}

done_testing;
