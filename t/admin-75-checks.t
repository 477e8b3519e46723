#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The checks before a job enables a schema, each failing on purpose, with
# the stand-in OX tools: a task left pending (runupdate that did nothing:
# listUpdateTasks says pending), a health URL answering 500, a replica
# whose SQL thread is stopped (Seconds_Behind_Master NULL) and a read pool
# that is no replica; each check passing; the results in the job's schema
# rows and the audit; a failed check leaves the schema disabled on its old
# server and fails the job (without force) or pauses it (force).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_checks', schemas => 7, contexts => 1);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

my $ox = OxAdmin::oxtools($site, tasks => [ { name => 't.A' } ],
                          new_version => '7.10.6');
my $ng = OxAdmin::nginx($site, ox => $ox, refresh => '1s', idle => '3s',
                        http => 'server { listen 127.0.0.1:%%PORT_H%%;'
                              . ' location /ok { return 200 "ok\n"; }'
                              . ' location /bad { return 500; } }',
                        extra => join ' ', map { "oxmigrate_health_url $_;" }
                                 'http://127.0.0.1:%%PORT_H%%/ok',
                                 'http://127.0.0.1:%%PORT_H%%/bad',
                                 'http://127.0.0.1:1/x');
sub api { OxAdmin::api($ng, @_) }
my $health = 'http://127.0.0.1:' . $ng->port('H');

sub ctx_state { OxAdmin::ctx_state($site, $_[0]) }

sub upgrade {
    my (%o) = @_;
    my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                             continue => JSON::PP::true,
                                             %o });
    is($r->{status}, 202, 'upgrade started') or diag explain $r;
    return OxAdmin::wait_job($ng, $r->{json}{job}, 40);
}

sub audit_checks {
    my ($schema) = @_;
    return [ map { [ $_->[0], $_->[1] ] } @{ $db->sql(
        "SELECT status, result FROM oxmigrate_audit WHERE action ="
        . " 'checkschema' AND result LIKE '%\"$schema\"%' ORDER BY id") } ];
}

# ------------------------------------------------ all pass

my $job = upgrade(only => [ $s[0] ], check_tasks => JSON::PP::true,
                  health_url => "$health/ok", max_replica_lag => 5);
is($job->{state}, 'done', 'all checks pass: done');
is_deeply([ map { [ $_->{check}, $_->{ok} ? 1 : 0 ] }
            @{ $job->{schemas}[0]{checks} } ],
          [ [ 'tasks', 1 ], [ 'replica', 1 ], [ 'health', 1 ] ],
          'the three checks recorded for the schema');
like($job->{schemas}[0]{checks}[1]{detail}, qr/no replica/,
     'read pool = write pool: no replica to wait for');
my $a = audit_checks($s[0]);
is(scalar @$a, 1, 'one checkschema audit row');
is($a->[0][0], 200, 'status 200');
ok(grep({ /listUpdateTasks .*-n $s[0]/ } @{ $ox->trace }),
   'listUpdateTasks asked on the new cluster');

# ------------------------------------------------ a pending task

$ox->behave('new', 'runupdate', { exit => 0 });    # runs nothing
$ox->clear_log;
$job = upgrade(only => [ $s[1], $s[2] ], check_tasks => JSON::PP::true);
$ox->behave('new', 'runupdate', {});
is($job->{state}, 'failed', 'a pending task: the job fails (no force)');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ], [ qw(failed pending) ],
          'stops at that schema');
like($job->{schemas}[0]{message}, qr/^runupdate ended but 1 task\(s\) of the new version are still pending on schema \Q$s[1]\E: t\.A /,
     'the verification after runupdate names the task (before any check)');
is_deeply(ctx_state($s[1]), [ [ 0, 1431655765, 101 ] ],
          "the schema stays disabled, on the new server (OX's order)");
ok(!grep({ /enableschema/ } @{ $ox->trace }), 'no enableschema');
is_deeply(audit_checks($s[1]), [], 'the checks never ran on it');

# the fix: a new job with check_tasks finishes it
$job = upgrade(only => [ $s[1] ], check_tasks => JSON::PP::true);
is($job->{state}, 'done', 'after a real update the check passes');

# ------------------------------------------------ health 500, force: pause

$job = upgrade(only => [ $s[2], $s[3] ], force => JSON::PP::true,
               health_url => "$health/bad");
is($job->{state}, 'paused', 'health 500 with force: the job pauses');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ], [ qw(failed pending) ],
          'the next schema did not start');
like($job->{reason}, qr/check failed on $s[2]: health: .* answered 500/,
     'the reason names schema, check and answer');
is_deeply(ctx_state($s[2]), [ [ 0, 1431655765, 101 ] ],
          'disabled on the new server');
my $id = $job->{id};
my $r = api(POST => "jobs/$id/cancel");
is($r->{json}{state}, 'cancelled', 'cancelled');

$job = upgrade(only => [ $s[4] ], health_url => 'http://127.0.0.1:1/x');
is($job->{state}, 'failed', 'a health URL that does not answer: failed');
like($job->{schemas}[0]{message}, qr/no HTTP answer/, 'no HTTP answer');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      health_url => 'https://x/' });
is($r->{status}, 400, 'a health_url that is not http://: 400');

# ------------------------------------------------ replica lag

my $primary = OxTest::mariadb_private(args => [
    '--log-bin=mysql-bin', '--server-id=1', '--binlog-format=ROW']);
my $replica = OxTest::mariadb_private(args => [
    '--server-id=2', '--skip-log-bin', '--skip-slave-start']);
$replica->replicate_from($primary);
my ($pp, $rp) = ($primary->port, $replica->port);
$db->do("INSERT INTO db_pool VALUES (5, 'jdbc:mysql://127.0.0.1:$rp/',"
        . " 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'replica');"
        . "INSERT INTO db_pool VALUES (6, 'jdbc:mysql://127.0.0.1:$pp/',"
        . " 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'noreplica');"
        . "UPDATE context_server2db_pool SET read_db_pool_id = 5"
        . " WHERE db_schema IN ('$s[5]');"
        . "UPDATE context_server2db_pool SET read_db_pool_id = 6"
        . " WHERE db_schema IN ('$s[6]');");

sleep 1;
$job = upgrade(only => [ $s[5] ], max_replica_lag => 5);
is($job->{state}, 'done', 'a replica that keeps up: done');
like($job->{schemas}[0]{checks}[0]{detail}, qr/db_pool 5 lags 0 s/,
     'lag 0 recorded');

$db->do("UPDATE context_server2db_pool SET server_id = 2"
        . " WHERE db_schema = '$s[5]'");
$replica->do('STOP SLAVE SQL_THREAD');
$job = upgrade(only => [ $s[5] ], max_replica_lag => 5);
is($job->{state}, 'failed', 'a stopped replication thread: failed');
like($job->{schemas}[0]{message},
     qr/check failed: replica: db_pool 5 .*replication stopped/,
     'the message says replication stopped');
is_deeply(ctx_state($s[5]), [ [ 0, 1431655765, 101 ] ],
          'disabled on the new server');

$job = upgrade(only => [ $s[6] ], max_replica_lag => 5);
is($job->{state}, 'failed', 'a read pool that is no replica: failed');
like($job->{schemas}[0]{message}, qr/is not a replica/, 'not a replica');

done_testing();
