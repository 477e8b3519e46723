#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# POST /upgrade with "parallel": schemas on two database hosts (the suite's
# MariaDB and a private one) run two at once, but never two on one host.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_par', schemas => 2, contexts => 2);
my @a = @{ $site->{schemas} };
my $db = $site->{db};

# a second database host with two more schemas (db_pool 4)
my $host2 = OxTest::mariadb_private();
my @b = ('adm_par_b1', 'adm_par_b2');
my $port2 = $host2->port;
$db->do("INSERT INTO db_pool VALUES (4, 'jdbc:mysql://127.0.0.1:$port2/',"
        . " 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'oxdb2');"
        . "INSERT INTO context (cid, name, enabled) VALUES"
        . " (11, 'ctx11', 1), (12, 'ctx12', 1);"
        . "INSERT INTO context_server2db_pool VALUES"
        . " (2, 11, 4, 4, '$b[0]'), (2, 12, 4, 4, '$b[1]');");
for my $s (@b) {
    $host2->do("CREATE DATABASE `$s`");
    $host2->sql_in($s, $OxAdmin::SCHEMA_SQL);
}

my $tasks = OxAdmin::tasks(
    '010_sleep.sql' => "-- task: t.Sleep\nSELECT SLEEP(1);\n");
my $ng = OxAdmin::nginx($site, tasks => $tasks);
sub api { OxAdmin::api($ng, @_) }

my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                         continue => JSON::PP::true,
                                         parallel => 2 });
is($r->{status}, 202, 'upgrade, parallel 2');
my $job = OxAdmin::wait_job($ng, $r->{json}{job}, 30);
is($job->{state}, 'done', 'done');
is_deeply([ map { $_->{name} } @{ $job->{schemas} } ], [ @a, @b ],
          'order: database, then name');

my %w = map { $_->[0] => [ $_->[1], $_->[2] ] } @{ $db->sql(
    "SELECT name, disabled_at, enabled_at FROM oxmigrate_job_schema"
    . " WHERE job_id = $r->{json}{job}") };
sub overlap {
    my ($x, $y) = @_;
    return $w{$x}[0] < $w{$y}[1] && $w{$y}[0] < $w{$x}[1];
}
ok(!overlap(@a), 'never two schemas of one host at once (host 1)');
ok(!overlap(@b), 'never two schemas of one host at once (host 2)');
ok(overlap($a[0], $b[0]) || overlap($a[1], $b[1])
   || overlap($a[0], $b[1]) || overlap($a[1], $b[0]),
   'schemas of different hosts run at the same time');

is($db->value('SELECT COUNT(*) FROM context_server2db_pool'
              . ' WHERE server_id = 8'), 6, 'every context moved');
is($host2->sql_in($b[1], "SELECT COUNT(*) FROM updateTask"
                  . " WHERE taskName = 't.Sleep'")->[0][0], 1,
   'the tasks ran on the second host');

$ng->stop;
done_testing();
