#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The schemas' MariaDB (configdb lives there too, as on a small site)
# restarts in the middle of an upgrade job's update task, cleanly and with
# kill -9: the runner reconnects, finds its LOCKED row still its own and
# goes on with the tasks not recorded, so the job ends "done", no schema
# failed, none left disabled, and no task ran twice (a task's updateTask
# row is committed with the task).  A server that stays away longer than
# oxmigrate_update_lock_idle interrupts the job (never "failed"): resume
# goes on.  Every step of the job is in the audit table.  The idle time is
# 600 s of the tests' clock (oxmigrate_test_clock): a slow restart never
# outlasts it, and "stays away" moves the clock past it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $my = OxTest::mariadb_private();
my $cdb = $my->db('adm_dbrestart');
my $site = OxAdmin::site('adm_dbrestart', schemas => 3, contexts => 2,
                         db => $cdb, prefix => 'adm_dbr');
my @s = @{ $site->{schemas} };

# the schemas move to the private server too (OxAdmin::site made them on
# the suite's MariaDB)
$cdb->do("UPDATE db_pool SET url = 'jdbc:mysql://127.0.0.1:" . $my->port
         . "/'");
for my $s (@s) {
    $my->do("CREATE DATABASE `$s` CHARACTER SET utf8 COLLATE"
            . " utf8_unicode_ci");
    $my->sql_in($s, $OxAdmin::SCHEMA_SQL);
}
sub ssql { my ($i, $sql) = @_; return $my->sql_in($s[$i], $sql) }

# t.Slow sleeps 3 s while the schema has a table "slow_flag"; every task
# logs its run in run_log (t.First creates it: DDL, safe to run twice)
my $tasks = OxAdmin::tasks(
    '010_first.sql' => "-- task: t.First\nCREATE TABLE IF NOT EXISTS run_log"
                     . " (task VARCHAR(64));\n"
                     . "INSERT INTO run_log VALUES ('t.First');\n",
    '020_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(IF((SELECT COUNT(*)"
                    . " FROM information_schema.tables WHERE table_schema ="
                    . " DATABASE() AND table_name = 'slow_flag') > 0,"
                    . " 3, 0));\nINSERT INTO run_log VALUES ('t.Slow');\n",
    '030_last.sql' => "-- task: t.Last\nINSERT INTO run_log VALUES"
                    . " ('t.Last');\n",
);
my $clock = OxTest::test_clock();
my $ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                        idle => '600s', clock => $clock);
sub api { OxAdmin::api($ng, @_) }

# the job runs $s[$i]'s slow task (t.First is recorded)
sub in_slow_task {
    my ($i) = @_;
    return OxTest::wait_for(sub {
        my $r = eval { ssql($i, "SELECT 1 FROM updateTask WHERE taskName"
                            . " = 't.First'") };
        $r && @$r;
    }, 30, 0.05);
}

sub each_task_once {
    my ($what) = @_;
    for my $i (0 .. $#s) {
        is_deeply(ssql($i, 'SELECT task, COUNT(*) FROM run_log GROUP BY task'
                       . ' ORDER BY task'),
                  [ [ 't.First', 1 ], [ 't.Last', 1 ], [ 't.Slow', 1 ] ],
                  "$what: $s[$i]: every task ran exactly once");
        is_deeply(ssql($i, 'SELECT taskName, successful FROM updateTask'
                       . ' ORDER BY taskName'),
                  [ [ 't.First', 1 ], [ 't.Last', 1 ], [ 't.Slow', 1 ] ],
                  "$what: $s[$i]: recorded, successful, no LOCKED row left");
    }
    is_deeply($cdb->sql("SELECT DISTINCT c.enabled, p.server_id FROM context"
                        . " c JOIN context_server2db_pool p USING (cid)"),
              [ [ 1, 8 ] ], "$what: every context moved and enabled");
}

sub reset_site {
    for my $i (0 .. $#s) {
        ssql($i, 'DROP TABLE IF EXISTS run_log, slow_flag, updateTask');
    }
    $cdb->do("UPDATE context_server2db_pool SET server_id = 2;"
             . " UPDATE context SET enabled = 1, reason_id = NULL");
}

sub upgrade {
    my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                             continue => JSON::PP::true });
    is($r->{status}, 202, 'upgrade started');
    return $r->{json}{job};
}

# ------------------------------------------------ a clean restart, a kill -9

for my $how (qw(restart kill)) {
    reset_site();
    ssql(1, 'CREATE TABLE slow_flag (id INT)');
    my $id = upgrade();
    ok(in_slow_task(1), "$how: the job runs $s[1]'s slow task");
    my $t0 = time;
    if ($how eq 'kill') { $my->kill } else { $my->stop }
    $my->start;
    note(sprintf('%s: MariaDB was away %.1f s', $how, time - $t0));

    my $job = OxAdmin::wait_job($ng, $id, 60);
    is($job->{state}, 'done', "$how: the job is done");
    is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
              [ qw(done done done) ], "$how: every schema done");
    each_task_once($how);
}
like($ng->error_log, qr/the database of schema \Q$s[1]\E went away/,
     'the runner saw its database go away');
like($ng->error_log, qr/the database of schema \Q$s[1]\E is back, the update/,
     'and came back to it');

# ------------------------------------------------ the server stays away

reset_site();
ssql(1, 'CREATE TABLE slow_flag (id INT)');
my $id = upgrade();
ok(in_slow_task(1), "the job runs $s[1]'s slow task");
$my->stop;
unlike($ng->error_log, qr/stays until it is idle/,
       'the runner waits for its database (the clock has not moved)');
$clock->advance(601, $ng);
ok(OxTest::wait_for(sub { $ng->error_log =~ /stays until it is idle/ }, 30,
                    0.2), 'the runner gave up after oxmigrate_update_lock_idle');
$my->start;

# its driver records the schema and the job once configdb is back
ok(OxTest::wait_for(sub { $ng->error_log =~ /job $id ends: interrupted/ },
                    30, 0.2), 'the driver ends the job "interrupted"');
my $job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'interrupted', 'the job is interrupted, not failed');
my ($s1) = grep { $_->{name} eq $s[1] } @{ $job->{schemas} };
is($s1->{state}, 'pending', "$s[1] is not failed: pending");
like($s1->{message} // '', qr/went away .* stayed away: interrupted/,
     "and says why: " . ($s1->{message} // ''));
is($cdb->value("SELECT MAX(c.enabled) FROM context c JOIN"
               . " context_server2db_pool p USING (cid)"
               . " WHERE p.db_schema = '$s[1]'"), 0,
   'meanwhile it stays disabled');

my $r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resume is accepted') or diag($r->{body});
$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'the resumed job is done');
each_task_once('stayed away');

# ------------------------------------------------ the audit of every step

my $rows = $cdb->sql("SELECT action, status, JSON_VALUE(result, '\$.state'),"
                     . " user FROM oxmigrate_audit WHERE JSON_VALUE(result,"
                     . " '\$.job') = $id AND JSON_VALUE(result, '\$.schema')"
                     . " = '$s[1]' ORDER BY id");
is_deeply($rows, [
    [ 'disableschema', 200, 'done', "job $id" ],
    [ 'changeserver', 200, 'done', "job $id" ],
    [ 'runupdate', 503, 'interrupted', "job $id" ],
    [ 'disableschema', 200, 'done', "job $id" ],
    [ 'changeserver', 200, 'done', "job $id" ],
    [ 'runupdate', 200, 'done', "job $id" ],
    [ 'enableschema', 200, 'done', "job $id" ],
], "the audit has every step of $s[1] (OX's order), the interrupted update too");
my $upd = $cdb->sql("SELECT arguments, result FROM oxmigrate_audit WHERE"
                    . " action = 'runupdate' AND status = 200 AND"
                    . " JSON_VALUE(result, '\$.job') = $id AND"
                    . " JSON_VALUE(result, '\$.schema') = '$s[1]'");
is_deeply([ map { OxTest::json($_) } @{ $upd->[0] } ],
          [ { params => [ $s[1] ], body => '' },
            { job => $id, schema => $s[1], state => 'done', message => '',
              executed => [ 't.Slow', 't.Last' ], failed => [] } ],
          'the update row: what ran after the resume');
is($cdb->value("SELECT COUNT(*) FROM oxmigrate_audit WHERE"
               . " JSON_VALUE(result, '\$.job') = $id AND"
               . " JSON_VALUE(result, '\$.schema') = '$s[2]'"), 4,
   "$s[2]: four steps audited");
is($cdb->value("SELECT COUNT(*) FROM oxmigrate_audit WHERE user LIKE 'job %'"
               . " AND (arguments LIKE '%password%' OR result LIKE"
               . " '%password%')"), 0, 'no password in the steps\' rows');

done_testing();
