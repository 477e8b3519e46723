#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# A job whose driver is stuck (its next step waits for a thread of a pool
# busy with a long call: one pool of one thread for the API and the jobs)
# goes stale and is resumed by another balancer.
# When the stuck step finally gets its thread it must see that the job is
# no longer its own and stop: no second disable/enable of a schema that the
# new driver already moved, no overwritten job state.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;
use MIME::Base64 ();

my $site = OxAdmin::site('adm_takeover', schemas => 3, contexts => 2,
                         prefix => 'adm_tk');
my ($s1, $s2, $s3) = @{ $site->{schemas} };
my $db = $site->{db};

# s3 is on the target already: not part of the job, but its update can
# occupy the one thread of the first balancer
$db->do("UPDATE context_server2db_pool SET server_id = 8"
        . " WHERE db_schema = '$s3'");

sub flag {
    return "(SELECT COUNT(*) FROM information_schema.tables WHERE"
         . " table_schema = DATABASE() AND table_name = '$_[0]') > 0";
}
my $tasks = OxAdmin::tasks(
    '010_one.sql' => "-- task: t.One\nSELECT SLEEP(IF(" . flag('slow_a')
                   . ", 1.5, 0));\nSELECT SLEEP(IF(" . flag('slow_z')
                   . ", 7, 0));\nCREATE TABLE IF NOT EXISTS run_log"
                   . " (id INT);\nINSERT INTO run_log VALUES (1);\n");

# the first balancer: one thread for everything (its job pool is the
# API's: a separate one keeps the driver's poll, and so its heartbeat,
# going while its steps wait)
my $ng1 = OxAdmin::nginx($site, tasks => $tasks, pool => 'threads=1',
                         refresh => '1s', idle => '3s',
                         extra => 'oxmigrate_job_thread_pool oxmigrate;');
my $ng2 = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                         idle => '3s');

OxAdmin::schema_sql($s1, 'CREATE TABLE slow_a (id INT)');
OxAdmin::schema_sql($s3, 'CREATE TABLE slow_z (id INT)');

my $r = OxAdmin::api($ng1, POST => 'upgrade',
                     json => { server => 'oxserver-xyz',
                               continue => JSON::PP::true });
is($r->{status}, 202, 'upgrade on the first balancer');
my $id = $r->{json}{job};
is($r->{json}{schemas}, 2, "two schemas ($s1, $s2)");

# while s1's step runs, a long update of s3 queues for the one thread;
# s2's step will queue behind it
sleep 0.5;
my $long = OxTest::http_start(POST => "/oxmigrate/v1/schemas/$s3/update",
    port => $ng1->port('A'), timeout => 30,
    headers => { Authorization => 'Basic ' . MIME::Base64::encode_base64(
                     "$OxAdmin::USER:$OxAdmin::PASS", '') });

ok(OxTest::wait_for(sub {
    (OxAdmin::api($ng2, GET => "jobs/$id")->{json}{state} // '')
        eq 'interrupted'
}, 10, 0.2), 'its driver is stuck: the job shows interrupted');

$r = OxAdmin::api($ng2, POST => "jobs/$id/resume");
is($r->{status}, 202, 'the second balancer resumes it');
is($r->{json}{remaining}, 1, "$s2 is left");
my $job = OxAdmin::wait_job($ng2, $id, 20);
is($job->{state}, 'done', 'and finishes it');

my $row = sub {
    $db->sql("SELECT j.state, j.finished, s.enabled_at, s.disabled_at"
             . " FROM oxmigrate_job j JOIN oxmigrate_job_schema s"
             . " ON s.job_id = j.id WHERE j.id = $id AND s.name = '$s2'")->[0]
};
my $after = join ',', map { $_ // 'NULL' } @{ $row->() };

is($long->wait->{status}, 200, 'the long update ends');
ok(OxTest::wait_for(sub {
    $ng1->error_log =~ /job $id was resumed by another worker/
}, 10, 0.1), 'the stuck step notices the takeover');
sleep 0.5;

is(join(',', map { $_ // 'NULL' } @{ $row->() }), $after,
   'the job and its schema rows are left as the new driver wrote them');
is_deeply($db->sql("SELECT DISTINCT c.enabled, c.reason_id, p.server_id"
                   . " FROM context c JOIN context_server2db_pool p"
                   . " USING (cid) WHERE p.db_schema = '$s2'"),
          [ [ 1, undef, 8 ] ], "$s2 moved and enabled");
is(OxAdmin::schema_sql($s2, 'SELECT COUNT(*) FROM run_log')->[0][0], 1,
   "$s2: the task ran once");
is(OxAdmin::api($ng1, GET => "jobs/$id")->{json}{state}, 'done',
   'both balancers show it done');

$ng1->stop;
$ng2->stop;
done_testing();
