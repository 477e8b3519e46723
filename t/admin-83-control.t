#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Control never waits behind work.  Job steps run on their own thread pool
# (oxmigrate_job_thread_pool; by default "oxmigrate_jobs", 64 threads), so
# with the API's pool (threads=2) no larger than "parallel" (2), and both
# steps busy in an update task, GET /jobs/{id}, pause and cancel are
# answered while both tasks provably still run (their SLEEPs are in the
# servers' process lists before and after each answer).  The answer times
# are measured and printed, not asserted.  The same for two manual
# POST /schemas/{s}/update in their tasks (they run on the job pool too).
# "One step per database host" compares resolved addresses: db_pools
# naming 127.0.0.1, 127.1 and 2130706433 (one MariaDB) never run at once.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;
use MIME::Base64 ();

my $site = OxAdmin::site('adm_ctl', schemas => 3, contexts => 2);
my @a = @{ $site->{schemas} };
my $db = $site->{db};
my $port = $ENV{OXM_MYSQL_PORT};

# a second database host (db_pool 4) with one schema
my $host2 = OxTest::mariadb_private();
my $b = 'adm_ctl_b1';
$db->do("INSERT INTO db_pool VALUES (4, 'jdbc:mysql://127.0.0.1:"
        . $host2->port . "/', 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0,"
        . " 'oxdb2');"
        . "INSERT INTO context (cid, name, enabled) VALUES"
        . " (11, 'ctx11', 1), (12, 'ctx12', 1);"
        . "INSERT INTO context_server2db_pool VALUES"
        . " (2, 11, 4, 4, '$b'), (2, 12, 4, 4, '$b');");
$host2->do("CREATE DATABASE `$b`");
$host2->sql_in($b, $OxAdmin::SCHEMA_SQL);

# the suite's MariaDB under two more names: db_pools 5 (127.1) and 6
# (2130706433, 127.0.0.1 as one number) with a[1] and a[2]
$db->do("INSERT INTO db_pool VALUES (5, 'jdbc:mysql://127.1:$port/',"
        . " 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'oxdb5'),"
        . " (6, 'jdbc:mysql://2130706433:$port/', 'com.mysql.jdbc.Driver',"
        . " 'root', '', 0, 100, 0, 'oxdb6');"
        . "UPDATE context_server2db_pool SET read_db_pool_id = 5,"
        . " write_db_pool_id = 5 WHERE db_schema = '$a[1]';"
        . "UPDATE context_server2db_pool SET read_db_pool_id = 6,"
        . " write_db_pool_id = 6 WHERE db_schema = '$a[2]';");

# t.Hold sleeps 8 s while the schema has "hold_flag", 1 s with "short"
my $tasks = OxAdmin::tasks(
    '010_hold.sql' => "-- task: t.Hold\nSELECT SLEEP(IF((SELECT COUNT(*)"
                    . " FROM information_schema.tables WHERE table_schema ="
                    . " DATABASE() AND table_name = 'hold_flag') > 0, 8,"
                    . " IF((SELECT COUNT(*) FROM information_schema.tables"
                    . " WHERE table_schema = DATABASE() AND table_name ="
                    . " 'short') > 0, 1, 0)));\n");
my $ng = OxAdmin::nginx($site, tasks => $tasks, pool => 'threads=2');
sub api { OxAdmin::api($ng, @_) }

# the ids of the running SLEEPs of t.Hold in schema $s on server $srv
sub sleeping {
    my ($srv, $s) = @_;
    return [ map { $_->[0] } @{ $srv->sql(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '$s'"
        . " AND COMMAND = 'Query' AND INFO LIKE '%SELECT SLEEP(IF(%'"
        . " AND INFO NOT LIKE '%PROCESSLIST%'") } ];
}
sub both_busy {
    return @{ sleeping(OxAdmin::suite(), $a[0]) }
        && @{ sleeping($host2, $b) };
}

# ------------------------------------------------ control while busy

OxAdmin::schema_sql($a[0], 'CREATE TABLE hold_flag (id INT)');
$host2->sql_in($b, 'CREATE TABLE hold_flag (id INT)');

my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                         continue => JSON::PP::true,
                                         parallel => 2,
                                         skip => [ @a[1, 2] ] });
is($r->{status}, 202, 'upgrade, parallel 2 = the API pool\'s threads');
my $id = $r->{json}{job};
ok(OxTest::wait_for(\&both_busy, 30, 0.05),
   'both steps are in their update task');

my %ms;
for my $call ([ GET => "jobs/$id" ], [ POST => "jobs/$id/pause" ],
              [ GET => "jobs/$id" ], [ POST => "jobs/$id/cancel" ])
{
    my $what = "$call->[0] $call->[1]";
    my $t0 = time;
    my $x = api(@$call, timeout => 90);
    my $d = (time - $t0) * 1000;
    ok($x->{status} == 200 || $x->{status} == 202,
       "$what: $x->{status}") or diag($x->{body});
    ok(both_busy(), "$what answered while both steps still run");
    push @{ $ms{$call->[1] =~ s/^jobs\/\d+\/?//r || 'get'} }, $d;
    if ($call->[0] eq 'GET' && $x->{json}) {
        is(scalar(grep { $_->{state} eq 'running' }
                  @{ $x->{json}{schemas} // [] }), 2,
           "$what: both schemas running");
    }
}
diag(sprintf('answers while parallel = pool threads run: GET %s ms,'
             . ' pause %s ms, cancel %s ms',
             join('/', map { sprintf '%.0f', $_ } @{ $ms{get} }),
             map { sprintf '%.0f', $ms{$_}[0] } qw(pause cancel)));

my $job = OxAdmin::wait_job($ng, $id, 60);
ok($job->{state} eq 'cancelled' || $job->{state} eq 'done',
   "the job ends $job->{state}");
is(scalar(grep { $_->{state} eq 'failed' } @{ $job->{schemas} }), 0,
   'no schema failed')
    or diag(explain([ map { "$_->{name}: $_->{state}: "
                             . ($_->{message} // '') } @{ $job->{schemas} } ]));

# ------------------------------------------------ manual updates, too

# POST /schemas/{s}/update holds its thread as long as the tasks run: on
# the job pool as well, so two of them leave the API's two threads free
OxAdmin::schema_sql($a[0], 'DELETE FROM updateTask');
$host2->sql_in($b, 'DELETE FROM updateTask');
my @calls = map {
    OxTest::http_start(POST => "/oxmigrate/v1/schemas/$_/update",
                       port => $ng->port('A'), timeout => 60,
                       headers => { Authorization => 'Basic '
                           . MIME::Base64::encode_base64(
                                 "$OxAdmin::USER:$OxAdmin::PASS", '') })
} $a[0], $b;
ok(OxTest::wait_for(\&both_busy, 30, 0.05),
   'two manual updates are in their task');
my $t0 = time;
$r = api(GET => 'schemas', timeout => 90);
my $d = (time - $t0) * 1000;
is($r->{status}, 200, 'GET /schemas: 200');
ok(both_busy(), 'answered while both updates still run');
diag(sprintf('GET /schemas while two manual updates run: %.0f ms', $d));
is_deeply([ map { $_->wait->{status} } @calls ], [ 200, 200 ],
          'both updates: 200');

# ------------------------------------------------ one host by address

OxAdmin::schema_sql($_, 'CREATE TABLE short (id INT)') for @a;
OxAdmin::schema_sql($a[0], 'DROP TABLE hold_flag; DELETE FROM updateTask');
$db->do("UPDATE context_server2db_pool SET server_id = 2;"
        . " UPDATE context SET enabled = 1, reason_id = NULL");
$r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                      continue => JSON::PP::true,
                                      parallel => 3, skip => [ $b ] });
is($r->{status}, 202, 'upgrade of three schemas on one MariaDB under three'
   . ' names, parallel 3');
$job = OxAdmin::wait_job($ng, $r->{json}{job}, 60);
is($job->{state}, 'done', 'done');

my %w = map { $_->[0] => [ $_->[1], $_->[2] ] } @{ $db->sql(
    "SELECT name, started_at, ended_at FROM oxmigrate_job_schema"
    . " WHERE job_id = $r->{json}{job}") };
sub overlap {
    my ($x, $y) = @_;
    return $w{$x}[0] < $w{$y}[1] && $w{$y}[0] < $w{$x}[1];
}
ok(!overlap($a[0], $a[1]), '127.0.0.1 and 127.1: one host, one at a time');
ok(!overlap($a[0], $a[2]), '127.0.0.1 and 2130706433: one host');
ok(!overlap($a[1], $a[2]), '127.1 and 2130706433: one host');
is_deeply([ map { $_->{host} } @{ $job->{schemas} } ],
          [ "127.0.0.1:$port", "127.1:$port", "2130706433:$port" ],
          'the job still shows each schema\'s host as configured')
    if exists $job->{schemas}[0]{host};

$ng->stop;
done_testing();
