#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# POST /jobs/{id}/resume while another job runs: refused with 409
# job_running naming the running job, like POST /upgrade and POST /updates
# (the resumed job would update the schemas the running one updates, and
# lose them to UPD-0003).  Once the running job is over, the resume works.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_resume', schemas => 3, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

# t.Slow sleeps while the schema has a table "slow_flag"
my $tasks = OxAdmin::tasks(
    '010_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(IF((SELECT COUNT(*)"
                    . " FROM information_schema.tables WHERE table_schema ="
                    . " DATABASE() AND table_name = 'slow_flag') > 0,"
                    . " 4, 0));\nCREATE TABLE IF NOT EXISTS run_log"
                    . " (task VARCHAR(64));\n"
                    . "INSERT INTO run_log VALUES ('t.Slow');\n",
);

# a long idle time: no heartbeat goes stale during the test
my $ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                        idle => '60s');
sub api { OxAdmin::api($ng, @_) }

sub enabled {
    my ($schema) = @_;
    return $db->value("SELECT MIN(c.enabled) FROM context c JOIN"
                      . " context_server2db_pool p USING (cid)"
                      . " WHERE p.db_schema = '$schema'");
}

# ------------------------------------------------ an interrupted upgrade

# the old worker of a reload finishes its schema and records "interrupted"
OxAdmin::schema_sql($s[0], 'CREATE TABLE slow_flag (id INT)');

my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                         continue => JSON::PP::true });
is($r->{status}, 202, 'upgrade started');
my $up = $r->{json}{job};

ok(OxTest::wait_for(sub {
    (api(GET => "jobs/$up")->{json}{current} // '') eq $s[0]
}, 10, 0.05), "the upgrade works on $s[0]");

$ng->reload;

my $job = api(GET => "jobs/$up")->{json};
is($job->{state}, 'interrupted', 'the upgrade is interrupted by a reload');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'done', 'pending', 'pending' ], "$s[1] and $s[2] are left");

OxAdmin::schema_sql($s[0], 'DROP TABLE slow_flag');

# ------------------------------------------------ a runallupdate runs

OxAdmin::schema_sql($s[1], 'CREATE TABLE slow_flag (id INT)');

$r = api(POST => 'updates');
is($r->{status}, 202, 'runallupdate started');
my $all = $r->{json}{job};

ok(OxTest::wait_for(sub {
    (api(GET => "jobs/$all")->{json}{current} // '') eq $s[1]
}, 10, 0.05), "the runallupdate runs $s[1]'s slow task");

$r = api(POST => "jobs/$up/resume");
is_deeply([ $r->{status}, $r->{json}{error}{code}, $r->{json}{job} ],
          [ 409, 'job_running', $all ],
          'resume while the runallupdate runs: 409 job_running, naming it');
is($r->{json}{error}{message}, "updates job $all is still running",
   'the message names the running job');

$job = api(GET => "jobs/$up")->{json};
is($job->{state}, 'interrupted', 'the upgrade stays interrupted');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'done', 'pending', 'pending' ], 'none of its schemas started');
is(enabled($s[1]), 1, "$s[1] was not disabled by it");

# the other answers keep their meaning while a job runs
$r = api(POST => "jobs/$all/resume");
is_deeply([ $r->{status}, $r->{json}{error}{code} ],
          [ 409, 'job_not_resumable' ],
          'resuming the running job itself: job_not_resumable');
$r = api(POST => 'jobs/99999/resume');
is_deeply([ $r->{status}, $r->{json}{error}{code} ], [ 404, 'unknown_job' ],
          'an unknown job: 404');

my $done = OxAdmin::wait_job($ng, $all, 30);
is($done->{state}, 'done', 'the runallupdate is done');
is_deeply([ grep { $_->{state} ne 'done' } @{ $done->{schemas} } ], [],
          'every schema of it updated, none lost to UPD-0003');

OxAdmin::schema_sql($s[1], 'DROP TABLE slow_flag');

# ------------------------------------------------ then the resume works

$r = api(POST => "jobs/$up/resume");
is($r->{status}, 202, 'once the runallupdate is over, the resume works');
is($r->{json}{remaining}, 2, 'two schemas left');

$job = OxAdmin::wait_job($ng, $up, 30);
is($job->{state}, 'done', 'the resumed upgrade is done');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'done', 'done', 'done' ], 'every schema done');

for my $i (0 .. 2) {
    is_deeply(OxAdmin::schema_sql($s[$i], 'SELECT task FROM run_log'),
              [ ['t.Slow'] ], "$s[$i]: t.Slow ran exactly once");
}

is($db->value('SELECT COUNT(*) FROM context WHERE enabled = 1'), 6,
   'every context enabled again');
is($db->value('SELECT COUNT(DISTINCT server_id) FROM context_server2db_pool'),
   1, 'all on one server');

$ng->stop;
done_testing();
