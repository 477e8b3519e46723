#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Jobs: POST /upgrade (upgradeschemata) with continue, force, resume_after
# (-m), skip (-k), parallel and dry_run; POST /updates (runallupdate);
# GET /jobs, GET /jobs/{id}; a failing task stops a job without force and
# not with it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_jobs', schemas => 5, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

# t.Bad fails where the schema has a table "make_bad_fail"
my $tasks = OxAdmin::tasks(
    '010_log.sql' => "-- task: t.First\nCREATE TABLE IF NOT EXISTS run_log"
                   . " (task VARCHAR(64));\n"
                   . "INSERT INTO run_log VALUES ('t.First');\n",
    '020_bad.sql' => "-- task: t.Bad\nBEGIN NOT ATOMIC\n"
                   . "  IF EXISTS (SELECT 1 FROM information_schema.tables"
                   . " WHERE table_schema = DATABASE()"
                   . " AND table_name = 'make_bad_fail') THEN\n"
                   . "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'bad';\n"
                   . "  END IF;\nEND;\n"
                   . "INSERT INTO run_log VALUES ('t.Bad');\n",
    '030_last.sql' => "-- task: t.Last\nINSERT INTO run_log VALUES"
                    . " ('t.Last');\n",
);
my $ng = OxAdmin::nginx($site, tasks => $tasks);
sub api { OxAdmin::api($ng, @_) }

sub snapshot {
    return join '|', map { join ',', map { $_ // 'NULL' } @$_ } @{ $db->sql(
        "SELECT c.cid, c.enabled, c.reason_id, p.server_id FROM context c"
        . " JOIN context_server2db_pool p USING (cid) ORDER BY c.cid") },
        [ $db->value('SELECT COUNT(*) FROM server') ],
        [ $db->value('SELECT COUNT(*) FROM oxmigrate_job') ],
        [ $db->value('SELECT id FROM configdb_sequence') ];
}

sub rows_of { OxAdmin::task_rows($_[0]) }

# ------------------------------------------------ dry run

my $before = snapshot();
my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                         dry_run => JSON::PP::true });
is($r->{status}, 200, 'dry_run: 200');
is_deeply([ map { $_->{name} } @{ $r->{json}{schemas} } ], \@s,
          'the plan: every schema, in order');
is_deeply($r->{json}{schemas}[0]{pending}, ['t.First', 't.Bad', 't.Last'],
          'with the pending tasks of each');
is($r->{json}{server_id}, undef, 'the server is not registered yet');
is(snapshot(), $before, 'dry_run changes no row');
is_deeply(rows_of($s[0]), {}, 'and runs no task');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      dry_run => JSON::PP::true,
                                      resume_after => $s[1],
                                      skip => [ $s[3] ] });
is_deeply([ map { $_->{name} } @{ $r->{json}{schemas} } ],
          [ $s[2], $s[4] ], 'dry_run with resume_after and skip');

$r = api(POST => 'upgrade', json => { server => 'x', resume_after => 'nope',
                                      dry_run => JSON::PP::true });
is($r->{status}, 404, 'resume_after an unknown schema: 404');
$r = api(POST => 'upgrade', json => { server => 'x', skip => ['nope'],
                                      dry_run => JSON::PP::true });
is($r->{status}, 404, 'skip an unknown schema: 404');
$r = api(POST => 'upgrade', json => { force => JSON::PP::true });
is($r->{status}, 400, 'no server: 400');
$r = api(POST => 'upgrade', json => { server => 'x', skip => 'a,b' });
is($r->{status}, 400, 'skip must be an array: 400');
is(snapshot(), $before, 'nothing changed by the refused calls');

# ------------------------------------------------ failure without force

OxAdmin::schema_sql($s[1], 'CREATE TABLE make_bad_fail (id INT)');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new' });
is($r->{status}, 202, 'upgrade: 202');
my $id = $r->{json}{job};
ok($id, "job $id");
is($r->{json}{server_id}, 101, 'registered the server');
is($db->value("SELECT server_id FROM server WHERE name = 'oxserver-new'"),
   101, 'server row');

my $job = OxAdmin::wait_job($ng, $id);
is($job->{state}, 'failed', 'the job failed');
is($job->{kind}, 'upgrade', 'kind');
is($job->{total}, 5, 'total');
is($job->{processed}, 2, 'stopped after the failing schema');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'done', 'failed', 'pending', 'pending', 'pending' ],
          'schema states');
is_deeply($job->{schemas}[1]{failed_tasks}, ['t.Bad'], 'failed task named');
ok($job->{schemas}[0]{downtime_ms} >= 0, 'downtime of the done schema: '
   . ($job->{schemas}[0]{downtime_ms} // 'undef') . ' ms');
is($job->{schemas}[1]{downtime_ms}, undef, 'the failed one is still down');

is_deeply($db->sql("SELECT DISTINCT c.enabled, c.reason_id, p.server_id"
                   . " FROM context c JOIN context_server2db_pool p"
                   . " USING (cid) WHERE p.db_schema = '$s[0]'"),
          [ [1, undef, 101] ], "$s[0]: moved to the new server, enabled");
is_deeply($db->sql("SELECT DISTINCT c.enabled, c.reason_id, p.server_id"
                   . " FROM context c JOIN context_server2db_pool p"
                   . " USING (cid) WHERE p.db_schema = '$s[1]'"),
          [ [0, 1431655765, 101] ],
          "$s[1]: stays disabled, on the new server (OX's order: changeserver"
          . " before the update)");
is_deeply($db->sql("SELECT DISTINCT c.enabled, p.server_id FROM context c"
                   . " JOIN context_server2db_pool p USING (cid)"
                   . " WHERE p.db_schema = '$s[2]'"),
          [ [1, 2] ], "$s[2]: untouched");
is_deeply(rows_of($s[1]), { 't.First' => 1, 't.Bad' => 0, 't.Last' => 1 },
          'the failed schema: t.Bad recorded as failed');
is_deeply(rows_of($s[2]), {}, 'no task ran on the next schema');

$r = api(POST => "jobs/$id/resume");
is($r->{status}, 409, 'a failed job cannot be resumed');

# ------------------------------------------------ continue, force

$r = api(POST => 'upgrade', json => { server => 'oxserver-new' });
is($r->{status}, 409, 'registered server without continue: 409');
like($r->{json}{error}{message},
     qr/^WARNING: The specified server is already registered with id '101'\./,
     "the tool's warning");
is($r->{json}{id}, 101, 'with the id');

# the operator fixes schema 2 by hand: force the task, move and enable
OxAdmin::schema_sql($s[1], 'DROP TABLE make_bad_fail');
$r = api(POST => "schemas/$s[1]/updatetasks/t.Bad/force");
is($r->{json}{successful}, JSON::PP::true, 'forced t.Bad after the fix');

OxAdmin::schema_sql($s[3], 'CREATE TABLE make_bad_fail (id INT)');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      force => JSON::PP::true,
                                      skip => [ $s[4] ] });
is($r->{status}, 202, 'continue + force + skip');
$job = OxAdmin::wait_job($ng, $r->{json}{job});
is_deeply([ map { [ $_->{name}, $_->{state} ] } @{ $job->{schemas} } ],
          [ [ $s[1], 'done' ], [ $s[2], 'done' ], [ $s[3], 'failed' ] ],
          'the moved schema is left out, the skipped one too; force goes'
          . ' on past a failure');
is($job->{state}, 'failed', 'a job with a failed schema ends failed');
is_deeply($db->sql("SELECT DISTINCT p.server_id FROM context_server2db_pool p"
                   . " WHERE p.db_schema = '$s[4]'"), [ [2] ],
          'the skipped schema stays on the old server');
is(OxAdmin::schema_sql($s[1], "SELECT COUNT(*) FROM run_log"
   . " WHERE task = 't.First'")->[0][0], 1,
   'no successful task ran twice');

# ------------------------------------------------ resume_after, parallel

OxAdmin::schema_sql($s[3], 'DROP TABLE make_bad_fail');
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      resume_after => $s[3],
                                      parallel => 2 });
is($r->{status}, 202, 'resume_after the failed schema, parallel 2');
$job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{state}, 'done', 'done');
is_deeply([ map { $_->{name} } @{ $job->{schemas} } ], [ $s[4] ],
          'only the schemas after it');

# ------------------------------------------------ runallupdate

$r = api(POST => 'updates', json => { stop_on_error => JSON::PP::false });
is($r->{status}, 202, 'runallupdate');
$job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{kind}, 'updates', 'kind updates');
is($job->{total}, 5, 'every schema');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'done', 'done', 'done', 'done', 'done' ], 'all done');
is(rows_of($s[3])->{'t.Bad'}, 0,
   "$s[3]'s failed t.Bad is not re-run: only force re-runs it");

$r = api(GET => 'jobs');
is($r->{status}, 200, 'GET jobs');
is(scalar @{ $r->{json}{jobs} }, 4, 'four jobs');
is($r->{json}{jobs}[0]{kind}, 'updates', 'newest first');

$r = api(GET => 'jobs/999');
is($r->{status}, 404, 'unknown job: 404');
$r = api(GET => 'jobs/abc');
is($r->{status}, 404, 'not a job id: 404');

$r = api(GET => 'audit');
ok((grep { $_->{action} eq 'upgradeschemata' } @{ $r->{json}{audit} }),
   'upgrades audited');

$ng->stop;
done_testing();
