#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Steering an upgrade job in the middle of its run, against the stand-in OX
# tools: pause during a schema's update (it finishes its sequence, no
# further schema starts, the job is "paused" with no driver and blocks
# other jobs), continue; cancel during a schema's disable (enabled again on
# its old server), during its update and during its changeserver (finished),
# of a paused job, during its enableschema (finished); the canary
# (pause_after), only and limit, also of POST /updates.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_steer', schemas => 12, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};
my $cred = "-A oxadminmaster";
my $P = $OxAdmin::PASS;

my $clock = OxTest::test_clock();
my $ox = OxAdmin::oxtools($site, clock => $clock, tasks => [
    { name => 't.A' },
    { name => 't.Slow', sleep => 3, sleep_if_table => 'slow_flag' },
]);
my $ng = OxAdmin::nginx($site, ox => $ox, refresh => '1s', idle => '3s',
                        clock => $clock);
sub api { OxAdmin::api($ng, @_) }

sub procedure { OxAdmin::ox_procedure(@_) }

sub ctx_state { OxAdmin::ctx_state($site, $_[0]) }

sub states { OxAdmin::states(@_) }

sub running { $ox->running(@_) }

sub upgrade {
    my (%o) = @_;
    my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                             continue => JSON::PP::true,
                                             %o });
    is($r->{status}, 202, 'upgrade started') or diag explain $r;
    return $r->{json}{job};
}

# ------------------------------------------------ pause during an update

OxAdmin::schema_sql($s[1], 'CREATE TABLE slow_flag (id INT)');
$ox->behave('new', 'runupdate', { pidfile => 1 });

my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                         only => [ @s[0 .. 3] ] });
is($r->{status}, 202, 'upgrade of 4 schemas');
my $id = $r->{json}{job};
is($r->{json}{schemas}, 4, 'only: 4 schemas');

ok(running('new', 'runupdate'), "$s[0]'s runupdate");
ok(running('new', 'runupdate'), "$s[1]'s runupdate (the slow task)");
$r = api(POST => "jobs/$id/pause");
is($r->{status}, 202, 'pause: 202 while a schema runs');
is($r->{json}{control}, 'pause', 'control: pause');
is(api(GET => "jobs/$id")->{json}{control}, 'pause',
   'GET /jobs/{id} shows the pause asked');

my $job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'paused', 'the job is paused');
is_deeply(states($job), [ qw(done done pending pending) ],
          "$s[1] finished its sequence, $s[2] did not start");
is($job->{control}, undef, 'control cleared');
is_deeply(ctx_state($s[1]), [ [ 1, undef, 101 ] ], "$s[1] moved, enabled");
is_deeply(ctx_state($s[2]), [ [ 1, undef, 2 ] ], "$s[2] untouched");
ok(!grep({ /-m $s[2]\b|-n $s[2]\b/ } @{ $ox->trace }), "no tool for $s[2]");

$r = api(POST => "jobs/$id/pause");
is($r->{status}, 200, 'pause of a paused job: 200');
is($r->{json}{state}, 'paused', 'still paused');

# longer than the idle time (the tests' clock): a paused job is not
# interrupted
$clock->advance(4, $ng);
is(api(GET => "jobs/$id")->{json}{state}, 'paused', 'still paused after 4 s');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true });
is($r->{status}, 409, 'another upgrade while one is paused: 409');
like($r->{json}{error}{message}, qr/paused/, 'it says the job is paused');

$r = api(POST => "jobs/$id/resume");
is($r->{status}, 409, 'resume of a paused job: 409 (it is continued)');

$ox->behave('new', 'runupdate', {});
$ox->clear_log;
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue: 202');
ok($r->{json}{continued}, 'continued');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'the continued job is done');
is_deeply(states($job), [ qw(done done done done) ], 'every schema done');
is_deeply($ox->trace, [ procedure($s[2], 101), procedure($s[3], 101) ],
          'only the two left ran');
is_deeply(OxAdmin::schema_sql($s[1], "SELECT taskName, COUNT(*) FROM"
          . " updateTask GROUP BY taskName ORDER BY taskName"),
          [ [ 't.A', 1 ], [ 't.Slow', 1 ] ], 'no task ran twice');

$r = api(POST => "jobs/$id/continue");
is($r->{status}, 409, 'continue of a done job: 409');
$r = api(POST => "jobs/$id/pause");
is($r->{status}, 409, 'pause of a done job: 409');
$r = api(POST => "jobs/999999/pause");
is($r->{status}, 404, 'pause of an unknown job: 404');

# ------------------------------------------------ cancel during a disable

$ox->clear_log;
$ox->behave('old', 'disableschema', { hold => 30, pidfile => 1 });
$id = upgrade(only => [ $s[4], $s[5] ]);
ok(running('old', 'disableschema'), "$s[4]'s disableschema runs");
$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 202, 'cancel: 202');
$ox->release('old', 'disableschema');    # the tool ends after the cancel
is($r->{json}{control}, 'cancel', 'control: cancel');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'cancelled', 'the job is cancelled');
is_deeply(states($job), [ qw(cancelled cancelled) ], 'both cancelled');
like($job->{schemas}[0]{message}, qr/enabled again on its old server/,
     "$s[4]: the message says where it is");
like($job->{schemas}[1]{message}, qr/not started/, "$s[5]: not started");
is_deeply($ox->trace, [ procedure($s[4], 101, 0),
                        "old:enableschema $cred -m $s[4]" ],
          'disableschema, then enableschema; no runupdate, no changeserver');
is_deeply(ctx_state($s[4]), [ [ 1, undef, 2 ] ],
          "$s[4] enabled again on its old server");
is_deeply(OxAdmin::task_rows($s[4]), {}, "$s[4]: no update task ran");
$ox->behave('old', 'disableschema', {});

# ------------------------------------------------ cancel during an update

$ox->clear_log;
OxAdmin::schema_sql($s[4], 'CREATE TABLE slow_flag (id INT)');
$ox->behave('new', 'runupdate', { pidfile => 1 });
$id = upgrade(only => [ $s[4], $s[5] ]);
ok(running('new', 'runupdate'), "$s[4]'s runupdate runs (slow)");
$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 202, 'cancel: 202');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'cancelled', 'the job is cancelled');
is_deeply(states($job), [ qw(done cancelled) ],
          "$s[4] (its tasks ran) finished, $s[5] not started");
is_deeply($ox->trace, [ procedure($s[4], 101) ], "only $s[4]'s procedure");
is_deeply(ctx_state($s[4]), [ [ 1, undef, 101 ] ], "$s[4] moved, enabled");
is_deeply(ctx_state($s[5]), [ [ 1, undef, 2 ] ], "$s[5] untouched");
$ox->behave('new', 'runupdate', {});

# ------------------------------------------------ cancel during changeserver

# OX's order: changeserver before the update tasks; a cancel then moves
# the schema back and enables it there
$ox->clear_log;
$ox->behave('old', 'changeserver', { hold => 30, pidfile => 1 });
$id = upgrade(only => [ $s[5], $s[6] ]);
ok(running('old', 'changeserver'), "$s[5]'s changeserver runs");
$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 202, 'cancel: 202');
$ox->release('old', 'changeserver');    # the tool ends after the cancel
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'cancelled', 'the job is cancelled');
is_deeply(states($job), [ qw(cancelled cancelled) ],
          "$s[5] cancelled before its update tasks");
is_deeply(ctx_state($s[5]), [ [ 1, undef, 2 ] ],
          "$s[5] back on its old server, enabled");
is_deeply($ox->trace, [ procedure($s[5], 101, 1),
                        "old:changeserver $cred -s 2 -m $s[5]",
                        "old:enableschema $cred -m $s[5]" ],
          'disable, changeserver, changeserver back, enable; no runupdate');
is_deeply(OxAdmin::task_rows($s[5]), {}, "$s[5]: no update task ran");
$ox->behave('old', 'changeserver', {});
$job = OxAdmin::wait_job($ng, upgrade(only => [ $s[5] ]), 30);
is($job->{state}, 'done', "$s[5] upgraded by the next job");

# ------------------------------------------------ cancel during enableschema

$ox->clear_log;
$ox->behave('old', 'enableschema', { hold => 30, pidfile => 1 });
$id = upgrade(only => [ $s[6], $s[7] ]);
ok(running('old', 'enableschema'), "$s[6]'s enableschema runs");
$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 202, 'cancel: 202');
$ox->release('old', 'enableschema');    # the tool ends after the cancel
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'cancelled', 'the job is cancelled');
is_deeply(states($job), [ qw(done cancelled) ], "$s[6] finished");
is_deeply(ctx_state($s[6]), [ [ 1, undef, 101 ] ], "$s[6] moved, enabled");
is_deeply($ox->trace, [ procedure($s[6], 101) ], "only $s[6]'s procedure");
$ox->behave('old', 'enableschema', {});

# ------------------------------------------------ a pause withdrawn in time

$ox->clear_log;
OxAdmin::schema_sql($s[10], 'CREATE TABLE slow_flag (id INT)');
$ox->behave('new', 'runupdate', { pidfile => 1 });
$id = upgrade(only => [ $s[10], $s[11] ]);
ok(running('new', 'runupdate'), "$s[10]'s runupdate runs (slow)");
$ox->behave('new', 'runupdate', {});
$r = api(POST => "jobs/$id/pause");
is($r->{status}, 202, 'pause: 202');
$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 202, 'a cancel overrides the pause');
$r = api(POST => "jobs/$id/pause");
is($r->{status}, 409, 'a pause does not override a cancel');
is($r->{json}{error}{code}, 'job_cancelling', 'job_cancelling');
$db->do("UPDATE oxmigrate_job SET control = 'pause' WHERE id = $id");
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 200, 'continue while the pause is not yet effective: 200');
is($r->{json}{state}, 'running', 'it runs on');
$job = OxAdmin::wait_job($ng, $id, 30);
is_deeply([ $job->{state}, @{ states($job) } ], [ qw(done done done) ],
          'both schemas done, no pause');

# ------------------------------------------------ canary, limit, cancel paused

$ox->clear_log;
$id = upgrade(pause_after => 1, limit => 2);
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'paused', 'canary: paused after one schema');
is_deeply(states($job), [ qw(done pending) ], 'limit 2: two schemas, one done');
is($job->{schemas}[0]{name}, $s[7], "the first left: $s[7]");
is($job->{pause_after}, undef, 'the canary is spent');
is_deeply($ox->trace, [ procedure($s[7], 101) ], "only $s[7] ran");

$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 200, 'cancel of a paused job: 200');
is($r->{json}{state}, 'cancelled', 'cancelled at once');
$job = api(GET => "jobs/$id")->{json};
is_deeply(states($job), [ qw(done cancelled) ], 'its pending schema too');
ok($job->{finished}, 'finished');

$r = api(POST => "jobs/$id/continue");
is($r->{status}, 409, 'continue of a cancelled job: 409');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      only => [ 'nope' ] });
is($r->{status}, 404, 'only: an unknown schema: 404');

# the canary again, then continue runs the rest without pausing again
$ox->clear_log;
$id = upgrade(pause_after => 1);
$job = OxAdmin::wait_job($ng, $id, 30);
is_deeply([ $job->{state}, @{ states($job) } ],
          [ qw(paused done pending) ], 'canary: paused after one');
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue');
$job = OxAdmin::wait_job($ng, $id, 30);
is_deeply([ $job->{state}, @{ states($job) } ], [ qw(done done done) ],
          'the rest ran without another pause');

# ------------------------------------------------ POST /updates: the same

$ox->clear_log;
$r = api(POST => 'updates', json => { only => [ @s[0 .. 2] ], limit => 2,
                                      pause_after => 1 });
is($r->{status}, 202, 'runallupdate with only, limit, pause_after');
is($r->{json}{schemas}, 2, 'two schemas');
$id = $r->{json}{job};
$job = OxAdmin::wait_job($ng, $id, 30);
is_deeply([ $job->{state}, map { $_->{name} } @{ $job->{schemas} } ],
          [ 'paused', @s[0, 1] ], 'paused after the first of the two');
is_deeply(states($job), [ qw(done pending) ], 'one done');
$r = api(POST => "jobs/$id/continue");
$job = OxAdmin::wait_job($ng, $id, 30);
is_deeply([ $job->{state}, @{ states($job) } ], [ qw(done done done) ],
          'continued to the end');
is_deeply([ grep { /runupdate/ } @{ $ox->trace } ],
          [ "new:runupdate --adminpass=$P $cred -n $s[0]",
            "new:runupdate --adminpass=$P $cred -n $s[1]" ],
          'runupdate of those two only');
$r = api(POST => 'updates', json => { window => '5-6' });
is($r->{status}, 400, 'runallupdate with a malformed window: 400');
$r = api(POST => 'updates', json => { only => [ 'nope' ] });
is($r->{status}, 404, 'only: unknown schema: 404');

my $audit = api(GET => 'audit')->{json};
my %act = map { $_->{action} => 1 } @{ $audit->{entries} // $audit->{audit}
                                       // [] };
ok($act{pausejob} && $act{canceljob} && $act{continuejob},
   'pause, cancel and continue are audited');

done_testing();
