#!/usr/bin/perl
# Makes a manual page out of a section of README.md, so that the manual
# and the README are one text:
#
#   readme2man.pl VERSION README.md hashdb        > hashdb.1
#   readme2man.pl VERSION README.md module        > ngx_http_upload_filter_module.5
#
# It knows the Markdown the README uses: headings, paragraphs, indented
# code blocks, "- " lists, tables, `code`, **bold**, *italic*, links.

use strict;
use warnings;

my %pages = (
    hashdb => {
        section => '## The hashdb command',
        th      => 'HASHDB 1',
        name    => 'hashdb \- build, update and query the hash set of'
                   . ' upload-filter',
        synopsis => 1,
        see     => 'ngx_http_upload_filter_module(5), nginx(8),'
                   . ' upload-filter-sync@.service (see FILES)',
        files   => [
            '/var/lib/upload-filter/hashset'
                => 'the hash set nginx reads (made when the package is'
                   . ' installed)',
            '/etc/upload-filter/sources/NAME.conf'
                => 'the list of source NAME, fetched and synced daily by'
                   . ' upload-filter-sync@NAME.timer; an example is in'
                   . ' /usr/share/doc/upload-filter-tools/examples/',
        ],
    },
    module => {
        section => '## Configuration',
        th      => 'NGX_HTTP_UPLOAD_FILTER_MODULE 5',
        name    => 'ngx_http_upload_filter_module \- nginx module that'
                   . ' blocks uploads of known child-sexual-abuse material',
        intro   => 'The module hashes every request body (and every part'
                   . ' of a multipart body) as it arrives, looks the'
                   . ' digests and perceptual hashes up in the hash set'
                   . ' that hashdb(1) keeps, and rejects a listed upload'
                   . ' before any of it reaches the upstream.  It is'
                   . ' loaded by the package and does nothing until'
                   . ' upload_filter is on:',
        see     => 'hashdb(1), nginx(8)',
        files   => [
            '/etc/nginx/modules-enabled/50-mod-http-upload-filter.conf'
                => 'loads the module (a link to'
                   . ' /usr/share/nginx/modules-available/'
                   . 'mod-http-upload-filter.conf)',
            '/usr/share/doc/libnginx-mod-http-upload-filter/README.md.gz'
                => 'the whole reference: how it works, what it sees,'
                   . ' formats, figures',
        ],
    },
);

my ($version, $readme, $which) = @ARGV;
die "usage: $0 VERSION README.md hashdb|module\n"
    unless defined $which && $pages{$which};
my $page = $pages{$which};

open my $fh, '<:encoding(UTF-8)', $readme or die "$readme: $!\n";
my @lines;
my $in = 0;
while (my $l = <$fh>) {
    chomp $l;
    if ($l eq $page->{section}) { $in = 1; next; }
    last if $in && $l =~ /^## /;
    push @lines, $l if $in;
}
close $fh;
die "$readme: no section \"$page->{section}\"\n" unless @lines;

binmode STDOUT, ':encoding(UTF-8)';

# roff's special characters; in code, a hyphen is a minus sign
sub esc {
    my ($s, $code) = @_;
    $s =~ s/\\/\\e/g;
    $s =~ s/-/\\-/g if $code;
    return $s;
}

sub inline {
    my ($s) = @_;
    my $out = '';
    while (length $s) {
        if ($s =~ s/^`([^`]*)`//) {
            $out .= '\fB' . esc($1, 1) . '\fR';
        } elsif ($s =~ s/^\*\*(.+?)\*\*//) {
            $out .= '\fB' . inline($1) . '\fR';
        } elsif ($s =~ s/^\*([^*\s][^*]*)\*//) {
            $out .= '\fI' . inline($1) . '\fR';
        } elsif ($s =~ s/^\[([^\]]+)\]\([^)]*\)//) {
            $out .= inline($1);
        } elsif ($s =~ s/^([^`*\[]+)//) {
            $out .= esc($1, 0);
        } else {
            $s =~ s/^(.)//;
            $out .= esc($1, 0);
        }
    }
    return $out;
}

# a text line must not start with a control character
sub line {
    my ($s) = @_;
    $s =~ s/^([.'])/\\&$1/;
    return "$s\n";
}

sub cells {
    my ($row) = @_;
    $row =~ s/^\|\s*//;
    $row =~ s/\s*\|\s*$//;
    my @c = split /\s+(?<!\\)\|\s+/, $row;
    s/\\\|/|/g for @c;
    return @c;
}

my $out = ".\\\" Made from README.md by deploy/readme2man.pl: edit that.\n";
$out .= ".TH $page->{th} \"\" \"upload-filter $version\" \"upload-filter\"\n";
# no hyphenation, ragged right: directive names and options stay whole
$out .= ".nh\n.ad l\n";
$out .= ".SH NAME\n$page->{name}\n";

my $i = 0;

if ($page->{synopsis}) {
    # the section's first code block is the synopsis
    $i++ while $i < @lines && $lines[$i] !~ /^    \S/;
    $out .= ".SH SYNOPSIS\n.nf\n";
    while ($i < @lines && ($lines[$i] =~ /^    / || $lines[$i] eq '')) {
        my $l = $lines[$i++];
        last if $l eq '' && ($i >= @lines || $lines[$i] !~ /^    /);
        $l =~ s/^    //;
        $out .= line(esc($l, 1));
    }
    $out .= ".fi\n";
}

$out .= ".SH DESCRIPTION\n";
$out .= line(esc($page->{intro}, 0)) if $page->{intro};

while ($i < @lines) {
    my $l = $lines[$i];

    if ($l eq '') { $i++; next; }

    if ($l =~ /^(#{3,4}) (.*)/) {
        my $h = $2;
        $out .= ($1 eq '###' ? '.SH ' . uc(inline($h)) : '.SS ' . inline($h))
                . "\n";
        $i++;
        next;
    }

    if ($l =~ /^    /) {
        $out .= ".PP\n.RS 4\n.nf\n";
        while ($i < @lines && ($lines[$i] =~ /^    / || $lines[$i] eq '')) {
            last if $lines[$i] eq ''
                    && ($i + 1 >= @lines || $lines[$i + 1] !~ /^    /);
            (my $c = $lines[$i++]) =~ s/^    //;
            $out .= line(esc($c, 1));
        }
        $out .= ".fi\n.RE\n";
        next;
    }

    if ($l =~ /^\|/) {
        my @head = cells($lines[$i++]);
        $i++ if $i < @lines && $lines[$i] =~ /^\|[-|: ]+\|$/;
        while ($i < @lines && $lines[$i] =~ /^\|/) {
            my @c = cells($lines[$i++]);
            $out .= ".TP\n" . line(inline(shift @c));
            my @body;
            for my $k (1 .. $#head) {
                my $v = shift @c;
                next unless defined $v && length $v;
                push @body, @head > 2 ? inline("$head[$k]: $v") : inline($v);
            }
            $out .= line(join('; ', @body));
        }
        next;
    }

    if ($l =~ /^- /) {
        while ($i < @lines && $lines[$i] =~ /^- /) {
            (my $item = $lines[$i++]) =~ s/^- //;
            while ($i < @lines && $lines[$i] =~ /^  \S/) {
                (my $c = $lines[$i++]) =~ s/^\s+//;
                $item .= " $c";
            }
            $out .= ".IP \\(bu 2\n" . line(inline($item));
            # a code block inside the item
            while ($i + 1 < @lines && $lines[$i] eq ''
                   && $lines[$i + 1] =~ /^      \S/) {
                $i++;
                $out .= ".RS 4\n.nf\n";
                while ($i < @lines && $lines[$i] =~ /^      /) {
                    (my $c = $lines[$i++]) =~ s/^      //;
                    $out .= line(esc($c, 1));
                }
                $out .= ".fi\n.RE\n";
            }
            $i++ while $i < @lines && $lines[$i] eq ''
                       && $i + 1 < @lines && $lines[$i + 1] =~ /^- /;
        }
        next;
    }

    my @para;
    while ($i < @lines && $lines[$i] ne '' && $lines[$i] !~ /^(#|    |\||- )/) {
        push @para, $lines[$i++];
    }
    $out .= ".PP\n" . line(inline(join(' ', @para)));
}

$out .= ".SH FILES\n";
my @f = @{ $page->{files} };
while (my ($file, $what) = splice @f, 0, 2) {
    $out .= ".TP\n.I " . esc($file, 0) . "\n" . line(esc($what, 0));
}
$out .= ".SH SEE ALSO\n" . line(esc($page->{see}, 0));

print $out;
