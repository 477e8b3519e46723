#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# A worker killed (-9) while an upgrade job runs a long task: after the
# idle time checkdatabase shows "Blocking updates running for too long",
# unblock removes the dead lock, the job shows "interrupted" (to any
# worker) and resumes on another worker; no successful task runs twice.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_crash', schemas => 3, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

# t.Slow sleeps while the schema has a table "slow_flag"
my $tasks = OxAdmin::tasks(
    '010_first.sql' => "-- task: t.First\nCREATE TABLE IF NOT EXISTS run_log"
                     . " (task VARCHAR(64));\n"
                     . "INSERT INTO run_log VALUES ('t.First');\n",
    '020_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(IF((SELECT COUNT(*)"
                    . " FROM information_schema.tables WHERE table_schema ="
                    . " DATABASE() AND table_name = 'slow_flag') > 0,"
                    . " 20, 0));\nINSERT INTO run_log VALUES ('t.Slow');\n",
    '030_last.sql' => "-- task: t.Last\nINSERT INTO run_log VALUES"
                    . " ('t.Last');\n",
);

# two workers: the job dies with one, the other one answers
my $ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                        idle => '3s', workers => 2,
                        allow => qr/exited on signal 9/);
sub api { OxAdmin::api($ng, @_) }

OxAdmin::schema_sql($s[1], 'CREATE TABLE slow_flag (id INT)');

my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                         continue => JSON::PP::true });
is($r->{status}, 202, 'upgrade started');
my $id = $r->{json}{job};

# wait until the second schema runs its slow task
my $owner;
ok(OxTest::wait_for(sub {
    my $j = api(GET => "jobs/$id")->{json};
    $owner = $j->{owner};
    return ($j->{current} // '') eq $s[1]
        # (the job names the schema before its updateTask table exists)
        && eval { @{ OxAdmin::schema_sql($s[1], "SELECT 1 FROM updateTask"
                                         . " WHERE taskName = 't.First'") } };
}, 20, 0.1), "the job runs $s[1]'s slow task");

my ($pid) = $owner =~ /:(\d+)$/;
ok($pid && kill(0, $pid), "the job's worker is $pid");
kill 'KILL', $pid;
OxTest::wait_for(sub { !kill(0, $pid) }, 5);
ok(!kill(0, $pid), 'worker killed with -9');

# the dead worker's schema: disabled, locked
is($db->value("SELECT MAX(c.enabled) FROM context c JOIN"
              . " context_server2db_pool p USING (cid)"
              . " WHERE p.db_schema = '$s[1]'"), 0,
   'its schema stays disabled');

$r = api(GET => "jobs/$id");
is($r->{json}{state}, 'running', 'right after the kill: still running');

# after the idle time
ok(OxTest::wait_for(sub {
    api(GET => "jobs/$id")->{json}{state} eq 'interrupted'
}, 10, 0.2), 'the job shows interrupted');

# The job's heartbeat and the LOCKED row's lastModified were refreshed at
# slightly different moments, so the lock may turn dead a little after the
# job shows interrupted: wait for it rather than race it.
my %chk;
OxTest::wait_for(sub {
    %chk = map { $_->{scheme} => $_->{status} }
           @{ api(GET => 'databases/check')->{json}{schemas} };
    ($chk{$s[1]} // '') eq 'Blocking updates running for too long';
}, 5, 0.1);
is($chk{$s[1]}, 'Blocking updates running for too long', 'check: too long');

$r = api(POST => 'databases/3/unblock');
is_deeply([ map { $_->{scheme} } @{ $r->{json}{unblocked} } ], [ $s[1] ],
          'unblock removes the dead lock');

# the slow task is done with sleeping now; resume
OxAdmin::schema_sql($s[1], 'DROP TABLE slow_flag');

$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resume');
is($r->{json}{remaining}, 2, 'two schemas left');

$r = api(POST => "jobs/$id/resume");
is($r->{status}, 409, 'a running job cannot be resumed twice');

my $job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'the resumed job is done');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'done', 'done', 'done' ], 'every schema done');
ok(defined $job->{schemas}[1]{downtime_ms}, 'downtime of the resumed schema'
   . ' counts from its first disable: '
   . ($job->{schemas}[1]{downtime_ms} // 'undef') . ' ms');
ok($job->{schemas}[1]{downtime_ms} >= 3000, 'which includes the crash');

for my $i (0 .. 2) {
    my $rows = OxAdmin::schema_sql($s[$i], 'SELECT task, COUNT(*) FROM run_log'
                                   . ' GROUP BY task ORDER BY task');
    is_deeply($rows, [ [ 't.First', 1 ], [ 't.Last', 1 ], [ 't.Slow', 1 ] ],
              "$s[$i]: every task ran exactly once");
}

is($db->value("SELECT COUNT(*) FROM context WHERE enabled = 1"), 6,
   'every context enabled again');
is($db->value("SELECT COUNT(DISTINCT server_id) FROM context_server2db_pool"),
   1, 'all on one server');

$ng->stop;
done_testing();
