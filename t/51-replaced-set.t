#!/usr/bin/perl
# A hash set deleted and made anew under a running nginx (not updated in
# place: a new directory, a new data.mdb) is noticed within seconds and
# reopened, with a notice; while it is gone, the set opened before is
# still used, with a warning.

use strict;
use warnings;
use lib 't/lib';
use File::Path qw(remove_tree);
use Test::More;
use Time::HiRes qw(sleep);
use UFTest qw(sha256_hex);

my $t = UFTest->new;
my $old = "listed in the old set\n" x 10;
my $new = "listed in the new set\n" x 10;
$t->listed(source => 'old', lines => [sha256_hex($old)]);
$t->start_upstream;
$t->start_nginx(UFTest::proxy_server());

sub put { UFTest::status($t->request('PUT', '/up', $_[0])) }

# within $s seconds, the status of $body becomes $want
sub becomes {
    my ($body, $want, $s) = @_;
    my $got;
    for (1 .. $s * 10) {
        $got = put($body);
        return $got if $got == $want;
        sleep 0.1;
    }
    return $got;
}

is(put($old), 403, 'the old set blocks its file');
is(put($new), 200, 'not the new one');

remove_tree($t->db);
is(becomes($old, 200, 1.5), 403, 'the set deleted: the one opened before is still used');
ok($t->wait_log(qr/upload_filter: hash set "\S+" is gone; the one opened before is still used/),
   'and a warning says so');

$t->listed(source => 'new', lines => [sha256_hex($new)]);
is(becomes($new, 403, 5), 403, 'a new set in its place is used within seconds, no reload');
is(put($old), 200, 'the old one is let go');
like($t->error_log, qr/\[notice\].*upload_filter: hash set "\S+" replaced: opened/,
     'a notice says the set was replaced');

# updates in place are not replacements: no reopen, no notice
my $notices = () = $t->error_log =~ /replaced: opened/g;
$t->listed(source => 'new', lines => [sha256_hex($old)]);
is(put($old), 403, 'an import into the set: seen at once');
sleep 1.5;
my $after = () = $t->error_log =~ /replaced: opened/g;
is($after, $notices, 'and no reopen for it');

$t->finish;
done_testing;
