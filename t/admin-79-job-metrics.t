#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Issue 10: the admin API's metrics move with a job whose schema fails.
# Three schemas, the second one's update task fails, force goes on: job
# schemas done 2 / failed 1, the failed task counted, two downtimes (the
# failed schema stays disabled: not enabled, no downtime), the admin calls
# by action and status class; the failed schema is the alert's case.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_jobm', schemas => 3, contexts => 2);
my @s = @{ $site->{schemas} };

my $tasks = OxAdmin::tasks(
    '010_ok.sql' => "-- task: t.Ok\nCREATE TABLE IF NOT EXISTS t_ok (id INT);\n",
    '020_bad.sql' => "-- task: t.Bad\nBEGIN NOT ATOMIC\n"
                   . "  IF EXISTS (SELECT 1 FROM information_schema.tables"
                   . " WHERE table_schema = DATABASE()"
                   . " AND table_name = 'make_bad_fail') THEN\n"
                   . "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'bad';\n"
                   . "  END IF;\nEND;\n",
);
OxAdmin::schema_sql($s[1], 'CREATE TABLE make_bad_fail (id INT)');

my $ng = OxAdmin::nginx($site, tasks => $tasks,
    http => 'server { listen 127.0.0.1:%%PORT_M%%;'
            . ' location = /metrics { oxmigrate_metrics; } }');

sub metrics {
    my $b = OxTest::http(GET => '/metrics', port => $ng->port('M'))->{body};
    my %v;
    for (split /\n/, $b) { $v{$1} = $2 if /^([^#\s]+) (\S+)$/ }
    return \%v;
}

my $v = metrics();
ok(!exists $v->{'oxmigrate_job_schemas{state="failed"}'}, 'no job yet: no job gauges');
is($v->{'oxmigrate_update_tasks_total{result="failed"}'}, 0, 'no failed task yet');

my $r = OxAdmin::api($ng, POST => 'upgrade', json => { server => 'oxserver-new',
                                                      force => JSON::PP::true });
is($r->{status}, 202, 'upgrade with force: 202');
my $job = OxAdmin::wait_job($ng, $r->{json}{job});
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ], [ 'done', 'failed', 'done' ],
          "the job: $s[1] failed, the others done") or diag(explain($job));

$v = metrics();
is($v->{'oxmigrate_job_schemas{state="done"}'}, 2, 'metrics: 2 schemas done');
is($v->{'oxmigrate_job_schemas{state="failed"}'}, 1, '... 1 failed (OxmigrateJobSchemaFailed fires)');
is($v->{'oxmigrate_job_schemas{state="pending"}'}, 0, '... none pending');
is($v->{'oxmigrate_update_tasks_total{result="failed"}'}, 1, '... 1 update task failed');
is($v->{'oxmigrate_update_tasks_total{result="executed"}'}, 5,
   '... 5 executed (both tasks in each done schema, t.Ok in the failed one)');
is($v->{'oxmigrate_schema_downtime_seconds_count'}, 2,
   '... 2 downtimes: the failed schema was not enabled again');
is($v->{'oxmigrate_admin_requests_total{action="upgradeschemata",status="2xx"}'}, 1,
   '... the upgrade call counted as upgradeschemata 2xx');
ok($v->{'oxmigrate_admin_requests_total{action="jobs/*",status="2xx"}'} >= 1,
   '... and the job polls as jobs/* 2xx');

$r = OxAdmin::api($ng, POST => 'schemas/no_such_schema/disable');
is($r->{status}, 404, 'an unknown schema: 404');
is(metrics()->{'oxmigrate_admin_requests_total{action="disableschema",status="4xx"}'}, 1,
   '... counted as disableschema 4xx');

# with the OX connector: runupdate's executed tasks are the updateTask rows
# it wrote (OX's tool prints only failures), its failures from its output
my $site2 = OxAdmin::site('adm_jobm2', schemas => 1, contexts => 1);
my $ox = OxAdmin::oxtools($site2, tasks => [
    { name => 'com.openexchange.groupware.update.tasks.A' },
    { name => 'com.openexchange.groupware.update.tasks.B' },
    { name => 't.Bad', fail_if_table => 'make_bad_fail' },
]);
OxAdmin::schema_sql($site2->{schemas}[0], 'CREATE TABLE make_bad_fail (id INT)');
my $ng2 = OxAdmin::nginx($site2, ox => $ox,
    http => 'server { listen 127.0.0.1:%%PORT_N%%;'
            . ' location = /metrics { oxmigrate_metrics; } }');
$r = OxAdmin::api($ng2, POST => "schemas/$site2->{schemas}[0]/update");
is($r->{json}{ox}{tool}, 'runupdate', 'runupdate through the OX tools') or diag($r->{body});
my $b = OxTest::http(GET => '/metrics', port => $ng2->port('N'))->{body};
like($b, qr/^oxmigrate_update_tasks_total\{result="executed"\} 2$/m,
     '... its 2 executed tasks counted (from the rows it wrote)');
like($b, qr/^oxmigrate_update_tasks_total\{result="failed"\} 1$/m,
     '... its failed task counted (from its output)');

done_testing();
