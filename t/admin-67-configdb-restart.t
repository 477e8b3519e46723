#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# configdb restarts in the middle of an upgrade job (its own MariaDB; the
# schemas' databases stay up): the step reconnects and does its
# idempotent configdb statements again, so the job ends "done" with every
# schema moved and enabled, instead of leaving one disabled until someone
# resumes.  A configdb that stays away longer than
# oxmigrate_update_lock_idle stops the job: "interrupted", resumable.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $my = OxTest::mariadb_private();
my $cdb = $my->db('adm_restart');
my $site = OxAdmin::site('adm_restart', schemas => 3, contexts => 2,
                         db => $cdb);
my @s = @{ $site->{schemas} };

# t.Slow sleeps 4 s where the schema has "slow_flag"
my $tasks = OxAdmin::tasks(
    '010_a.sql' => "-- task: t.A\nSELECT 1;\n",
    '020_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(IF((SELECT COUNT(*)"
                    . " FROM information_schema.tables WHERE table_schema ="
                    . " DATABASE() AND table_name = 'slow_flag') > 0, 4,"
                    . " 0));\n",
);
my $ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                        idle => '8s');
sub api { OxAdmin::api($ng, @_) }

OxAdmin::schema_sql($s[1], 'CREATE TABLE slow_flag (id INT)');

my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                         continue => JSON::PP::true });
is($r->{status}, 202, 'upgrade started');
my $id = $r->{json}{job};

# while s1's slow task runs (on the suite's MariaDB), configdb restarts
ok(OxTest::wait_for(sub {
    eval { @{ OxAdmin::schema_sql($s[1], "SELECT 1 FROM updateTask WHERE"
                                  . " taskName = 't.A'") } } }, 20, 0.05),
   "the job runs $s[1]'s slow task");
$my->stop;
sleep 2;
$my->start;

my $job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'the job is done despite the configdb restart');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ qw(done done done) ], 'every schema done');
is_deeply($cdb->sql("SELECT DISTINCT c.enabled, p.server_id FROM context c"
                    . " JOIN context_server2db_pool p USING (cid)"),
          [ [ 1, 8 ] ], 'every context moved and enabled');
like($ng->error_log, qr/configdb: .*reconnecting/, 'the step reconnected');

# ------------------------------------------------ configdb stays away

OxAdmin::schema_sql($s[0], 'CREATE TABLE slow_flag (id INT);'
                    . ' DELETE FROM updateTask');
$cdb->do("UPDATE context_server2db_pool SET server_id = 2;"
         . " UPDATE context SET enabled = 1, reason_id = NULL");
$r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                      continue => JSON::PP::true,
                                      skip => [ $s[1], $s[2] ] });
is($r->{status}, 202, 'another upgrade');
$id = $r->{json}{job};
ok(OxTest::wait_for(sub {
    eval { @{ OxAdmin::schema_sql($s[0], "SELECT 1 FROM updateTask WHERE"
                                  . " taskName = 't.A'") } } }, 20, 0.05),
   "it runs $s[0]'s slow task");
$my->stop;
OxTest::wait_for(sub { $ng->error_log =~ /configdb stayed unavailable/ },
                 30, 0.1);
like($ng->error_log, qr/configdb stayed unavailable/,
     'gave up after oxmigrate_update_lock_idle');
$my->start;
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'interrupted', 'the job is interrupted');
$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'and resumable');
$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'done after the resume');
is_deeply($cdb->sql("SELECT DISTINCT c.enabled, p.server_id FROM context c"
                    . " JOIN context_server2db_pool p USING (cid) WHERE"
                    . " p.db_schema = '$s[0]'"),
          [ [ 1, 8 ] ], 'moved and enabled');

done_testing();
