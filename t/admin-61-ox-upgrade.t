#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# POST /upgrade (upgradeschemata) through the (stand-in) OX tools: OX's
# procedure per schema (disableschema, changeserver, runupdate and its
# verification, enableschema: UpgradeSchemata's order) with the right
# flags, in the right order, on the right cluster; registerserver once;
# -f (force), -m (resume_after), -k (skip), continue, dry_run; a failed
# update leaves the schema disabled on the NEW server, never enabled; a
# worker killed during a long runupdate: the job is resumed on another
# worker, which waits for OX's lock, and no task runs twice.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_oxup', schemas => 5, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};
my $cred = "-A oxadminmaster";
my $P = $OxAdmin::PASS;

my $ox = OxAdmin::oxtools($site, tasks => [
    { name => 't.A' },
    { name => 't.Bad', fail_if_table => 'make_bad_fail' },
    { name => 't.Slow', sleep => 6, sleep_if_table => 'slow_flag' },
]);
my $ng = OxAdmin::nginx($site, ox => $ox, workers => 2, refresh => '1s',
                        idle => '3s', allow => qr/exited on signal 9/);
sub api { OxAdmin::api($ng, @_) }

sub procedure { OxAdmin::ox_procedure(@_) }

sub ctx_state { OxAdmin::ctx_state($site, $_[0]) }

# ------------------------------------------------ dry run

my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                         dry_run => JSON::PP::true });
is($r->{status}, 200, 'dry_run: 200');
is($r->{json}{steps}, 'disableschema (old), changeserver (old), runupdate'
   . ' (new), enableschema (old)', "the plan names the tools, OX's order");
like($r->{json}{ox_caches}, qr/^invalidated by OX in the old cluster only/,
     'ox_caches');
is_deeply([ map { $_->{name} } @{ $r->{json}{schemas} } ], \@s, 'schemas');
is_deeply($ox->trace, [], 'dry_run runs no tool');

$r = api(POST => 'upgrade', json => { server => '-x' });
is($r->{status}, 400, 'a server name that is no safe argument: 400');

# ------------------------------------------------ without -f: stops

OxAdmin::schema_sql($s[1], 'CREATE TABLE make_bad_fail (id INT)');
OxAdmin::schema_sql($s[3], 'CREATE TABLE make_bad_fail (id INT)');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new' });
is($r->{status}, 202, 'upgrade: 202');
is($r->{json}{server_id}, 101, 'the id registerserver printed');
my $job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{state}, 'failed', 'the job failed');
like($job->{ox_caches}, qr/^invalidated by OX in the old cluster only/,
     'the job says ox_caches');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ qw(done failed pending pending pending) ], 'stopped at s1');
is_deeply($job->{schemas}[1]{failed_tasks}, [ 't.Bad' ], 'the failed task');
is_deeply($ox->trace, [
    "old:registerserver $cred -n oxserver-new",
    procedure($s[0], 101),
    procedure($s[1], 101, 2),
], 'registerserver, then the procedure per schema, in order, on the'
   . ' right clusters; no enable after the failed runupdate');
is_deeply(ctx_state($s[0]), [ [ 1, undef, 101 ] ], "$s[0] moved, enabled");
is_deeply(ctx_state($s[1]), [ [ 0, 1431655765, 101 ] ],
          "$s[1] stays disabled, on the new server (OX's order moved it)");
like($job->{schemas}[1]{message}, qr/update tasks failed; disabled on the new server/,
     'the message says where it is');

# ------------------------------------------------ -f -m -k, continue

$ox->clear_log;
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      force => JSON::PP::true,
                                      resume_after => $s[1],
                                      skip => [ $s[4] ] });
is($r->{status}, 202, 'upgrade -f -m -k with continue: 202');
$job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{state}, 'failed', 'failed (a schema failed)');
is_deeply([ map { $_->{name} . ':' . $_->{state} } @{ $job->{schemas} } ],
          [ "$s[2]:done", "$s[3]:failed" ],
          'after s1, without s4; went on past nothing (s3 is last)');
is_deeply($ox->trace, [ procedure($s[2], 101), procedure($s[3], 101, 2) ],
          'no registerserver (registered); the procedure for s2 and s3');
is_deeply(ctx_state($s[3]), [ [ 0, 1431655765, 101 ] ],
          "$s[3] disabled (on the new server): force never enables failed tasks");
is_deeply(ctx_state($s[4]), [ [ 1, undef, 2 ] ], "$s[4] untouched");

# -f goes on past a failure
$ox->clear_log;
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      force => JSON::PP::true,
                                      skip => [ $s[1], $s[4] ] });
$job = OxAdmin::wait_job($ng, $r->{json}{job});
is_deeply([ map { $_->{name} . ':' . $_->{state} } @{ $job->{schemas} } ],
          [ "$s[3]:failed" ],
          "$s[3] again: OX does not re-run its failed task, and its row"
          . " (successful = 0) still fails it");
is_deeply($job->{schemas}[0]{failed_tasks}, [ 't.Bad' ], 'named');
is_deeply(ctx_state($s[3]), [ [ 0, 1431655765, 101 ] ], 'still disabled');

# the way on: the cause fixed, the task forced, the job continued
OxAdmin::schema_sql($s[3], 'DROP TABLE make_bad_fail');
$r = api(POST => "schemas/$s[3]/updatetasks/t.Bad/force");
is($r->{status}, 200, 'forceupdatetask t.Bad: 200');
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      skip => [ $s[1], $s[4] ] });
$job = OxAdmin::wait_job($ng, $r->{json}{job});
is_deeply([ map { $_->{name} . ':' . $_->{state} } @{ $job->{schemas} } ],
          [ "$s[3]:done" ], "$s[3] done once its task succeeded");
is_deeply(ctx_state($s[3]), [ [ 1, undef, 101 ] ], 'and enabled');

# ------------------------------------------------ killed worker, resume

$ox->clear_log;
OxAdmin::schema_sql($s[4], 'CREATE TABLE slow_flag (id INT)');
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      skip => [ $s[1] ] });
is($r->{status}, 202, 'upgrade of s4 (slow task)');
my $id = $r->{json}{job};
my $owner;
ok(OxTest::wait_for(sub {
    my $j = api(GET => "jobs/$id")->{json};
    $owner = $j->{owner};
    return eval { @{ OxAdmin::schema_sql($s[4], "SELECT 1 FROM updateTask"
                     . " WHERE taskName = 't.A'") } };
}, 20, 0.1), 'runupdate runs the slow task of s4');
ok(OxTest::wait_for(sub {
    my $j = api(GET => "jobs/$id")->{json};
    return grep { ($_->{message} // '') eq "runupdate running, OX's lock is live" }
           @{ $j->{schemas} // [] };
}, 10, 0.2), 'GET /jobs/{id} shows the runupdate and its live OX lock');
my ($wpid) = ($owner // '') =~ /:(\d+)$/;
ok($wpid && kill(0, $wpid), "the job's worker is $wpid");
kill 'KILL', $wpid;
OxTest::wait_for(sub { !kill(0, $wpid) }, 5);

ok(OxTest::wait_for(sub {
    (api(GET => "jobs/$id")->{json}{state} // '') eq 'interrupted' }, 15,
   0.2), 'the job is interrupted');
ok(OxAdmin::schema_sql($s[4], "SELECT COUNT(*) FROM updateTask WHERE"
   . " taskName = 'LOCKED'")->[0][0],
   "OX's runupdate still holds its lock (it outlives the worker)");

$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resumed');
$job = OxAdmin::wait_job($ng, $id, 40);
is($job->{state}, 'done', 'the resumed job is done');
is_deeply(ctx_state($s[4]), [ [ 1, undef, 101 ] ], "$s[4] moved, enabled");
is_deeply(OxAdmin::schema_sql($s[4], "SELECT taskName, COUNT(*) FROM"
          . " updateTask GROUP BY taskName ORDER BY taskName"),
          [ [ 't.A', 1 ], [ 't.Bad', 1 ], [ 't.Slow', 1 ] ],
          'every task ran once; no LOCKED row left');
my @ru = grep { $_->{tool} eq 'runupdate' } @{ $ox->calls };
is(scalar @ru, 2, 'runupdate ran twice (before and after the resume)');
ok(@ru == 2 && $ru[1]{start} >= $ru[0]{end},
   "the second one started after the first one ended (OX's lock waited for)");

done_testing();
