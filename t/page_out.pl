#!/usr/bin/perl
# Pages a file out of memory as a host that reclaims idle memory would:
#   t/page_out.pl FILE [PID ...]
# Each process's mappings of FILE are paged out (process_madvise
# MADV_PAGEOUT; the kernel skips locked pages and pages other processes
# map too), then what no process maps is dropped from the page cache
# (dd iflag=nocache).  Prints how many mappings it paged out.  Exits 2 if
# the kernel could not page a mapping out (before Linux 5.10, or without
# CAP_SYS_NICE); the page cache is dropped all the same.
# Used by t/43-resident.t and bench/cold_set.sh.

use strict;
use warnings;
use Cwd qw(realpath);
use POSIX ();
no warnings 'portable';

my ($file, @pids) = @ARGV;
die "usage: $0 FILE [PID ...]\n" unless defined $file && -f $file;
$file = realpath($file);

my $SYS_pidfd_open = 434;       # x86_64 and arm64 alike
my $SYS_process_madvise = 440;
my $MADV_PAGEOUT = 21;

my ($paged, $unable) = (0, 0);
PID: for my $pid (@pids) {
    open my $maps, '<', "/proc/$pid/maps" or next;
    my @ranges;
    while (<$maps>) {
        my ($from, $to, $path) = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\d+\s+(.*)$/
            or next;
        push @ranges, [hex $from, hex($to) - hex($from)] if $path eq $file;
    }
    next unless @ranges;

    my $pidfd = syscall($SYS_pidfd_open, $pid + 0, 0);
    if ($pidfd < 0) {
        warn "pidfd_open($pid): $!\n";
        $unable = 1;
        next;
    }
    for my $r (@ranges) {
        my $iov = pack 'QQ', @$r;
        my $rc = syscall($SYS_process_madvise, $pidfd, $iov, 1,
                         $MADV_PAGEOUT, 0);
        if ($rc < 0) {
            # locked mappings answer EINVAL: that is the point of locking
            next if $!{EINVAL};
            warn "process_madvise($pid): $!\n";
            $unable = 1;
            POSIX::close($pidfd);
            next PID;
        }
        $paged++;
    }
    POSIX::close($pidfd);
}

system('sync', $file);
system('dd', "if=$file", 'iflag=nocache', 'count=0', 'status=none') == 0
    or die "dd: drop cache failed\n";
print "$paged\n";
exit($unable ? 2 : 0);
