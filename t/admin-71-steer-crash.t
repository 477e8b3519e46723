#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# A worker killed (-9) while its job is pausing, cancelling or paused: the
# request is in configdb, so the resumed job (another worker) ends as asked;
# a schema that was in flight finishes its sequence (never half-moved); a
# cancel of a job interrupted with a schema in flight waits for the resume.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_stcrash', schemas => 8, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

my $ox = OxAdmin::oxtools($site, tasks => [
    { name => 't.A' },
    { name => 't.Slow', sleep => 4, sleep_if_table => 'slow_flag' },
]);
my $ng = OxAdmin::nginx($site, ox => $ox, workers => 2, refresh => '1s',
                        idle => '3s', allow => qr/exited on signal 9/);
sub api { OxAdmin::api($ng, @_) }

sub ctx_state { OxAdmin::ctx_state($site, $_[0]) }

sub states { OxAdmin::states(@_) }

sub running { $ox->running(@_) }

sub kill_owner {
    my ($id) = @_;
    my ($pid) = (api(GET => "jobs/$id")->{json}{owner} // '') =~ /:(\d+)$/;
    ok($pid && kill(0, $pid), "the job's worker is $pid");
    kill 'KILL', $pid;
    OxTest::wait_for(sub { !kill(0, $pid) }, 5);
}

sub interrupted {
    my ($id) = @_;
    ok(OxTest::wait_for(sub {
        (api(GET => "jobs/$id")->{json}{state} // '') eq 'interrupted' }, 15,
       0.2), 'the job is interrupted');
}

sub upgrade {
    my (%o) = @_;
    my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                             continue => JSON::PP::true,
                                             %o });
    is($r->{status}, 202, 'upgrade started') or diag explain $r;
    return $r->{json}{job};
}

$ox->behave('new', 'runupdate', { pidfile => 1 });

# ------------------------------------------------ crash while pausing

OxAdmin::schema_sql($s[0], 'CREATE TABLE slow_flag (id INT)');
my $id = upgrade(only => [ @s[0 .. 2] ]);
ok(running('new', 'runupdate'), "$s[0]'s runupdate runs (slow)");
my $r = api(POST => "jobs/$id/pause");
is($r->{status}, 202, 'pause: 202');
kill_owner($id);
interrupted($id);
is(api(GET => "jobs/$id")->{json}{control}, 'pause', 'the pause is kept');

$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resumed');
ok(running('new', 'runupdate'), "$s[0]'s runupdate again (it was in flight)");
my $job = OxAdmin::wait_job($ng, $id, 40);
is($job->{state}, 'paused', 'the resumed job pauses');
is_deeply(states($job), [ qw(done pending pending) ],
          "$s[0] finished its sequence; nothing else started");
is_deeply(ctx_state($s[0]), [ [ 1, undef, 101 ] ], "$s[0] moved, enabled");
is_deeply(ctx_state($s[1]), [ [ 1, undef, 2 ] ], "$s[1] untouched");

# ------------------------------------------------ crash while paused

kill_owner($id);
sleep 1;
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue after the crash of the worker that paused');
ok(running('new', 'runupdate'), 'runupdate') for 1 .. 2;
$job = OxAdmin::wait_job($ng, $id, 40);
is($job->{state}, 'done', 'done');
is_deeply(states($job), [ qw(done done done) ], 'every schema done');

# ------------------------------------------------ crash while cancelling

OxAdmin::schema_sql($s[3], 'CREATE TABLE slow_flag (id INT)');
$id = upgrade(only => [ @s[3 .. 5] ]);
ok(running('new', 'runupdate'), "$s[3]'s runupdate runs (slow)");
$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 202, 'cancel: 202');
kill_owner($id);
interrupted($id);
is(api(GET => "jobs/$id")->{json}{control}, 'cancel', 'the cancel is kept');
$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resumed');
ok(running('new', 'runupdate'), "$s[3]'s runupdate again");
$job = OxAdmin::wait_job($ng, $id, 40);
is($job->{state}, 'cancelled', 'the resumed job ends cancelled');
is_deeply(states($job), [ qw(done cancelled cancelled) ],
          "$s[3] (its tasks had started) finished; the others never started");
is_deeply(ctx_state($s[3]), [ [ 1, undef, 101 ] ], "$s[3] moved, enabled");
is_deeply(ctx_state($s[4]), [ [ 1, undef, 2 ] ], "$s[4] untouched");

# ------------------------------------------------ cancel after the crash

OxAdmin::schema_sql($s[4], 'CREATE TABLE slow_flag (id INT)');
$id = upgrade(only => [ @s[4 .. 5] ]);
ok(running('new', 'runupdate'), "$s[4]'s runupdate runs (slow)");
kill_owner($id);
interrupted($id);
$r = api(POST => "jobs/$id/cancel");
is($r->{status}, 202, 'cancel of an interrupted job with a schema in flight:'
   . ' 202');
is($r->{json}{state}, 'interrupted', 'it stays interrupted');
like($r->{json}{message}, qr/resume/, 'until resumed');
$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resumed');
$job = OxAdmin::wait_job($ng, $id, 40);
is($job->{state}, 'cancelled', 'cancelled');
is_deeply(states($job), [ qw(done cancelled) ], "$s[4] finished");

# an interrupted job with nothing in flight is paused at once
$id = upgrade(only => [ $s[6], $s[7] ], pause_after => 1);
$job = OxAdmin::wait_job($ng, $id, 40);
is($job->{state}, 'paused', 'canary paused');
$db->do("UPDATE oxmigrate_job SET state = 'interrupted' WHERE id = $id");
$r = api(POST => "jobs/$id/pause");
is($r->{status}, 200, 'pause of an interrupted job, nothing in flight: 200');
is($r->{json}{state}, 'paused', 'paused');
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue');
$job = OxAdmin::wait_job($ng, $id, 40);
is_deeply([ $job->{state}, @{ states($job) } ], [ qw(done done done) ],
          'done');

done_testing();
