#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Time windows and max_downtime of an upgrade job, on the tests' clock
# (oxmigrate_test_clock, moved on to a time of day): outside its window a job
# starts no schema and waits (running, heartbeat fresh, never failed);
# the window opening starts it; closing lets the schema in flight finish
# and stops further ones; PATCH of the window (one spanning midnight,
# null); oxmigrate_job_utc_offset with the real clock; max_downtime: the
# schema is not stopped, the job pauses after it with the reason.  The
# idle time and the downtime pass on the tests' clock too; "nothing
# started" is asserted after a heartbeat that proves the driver looked
# again, not after a sleep.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_window', schemas => 7, contexts => 1);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

my $tc = OxTest::test_clock();
my $ox = OxAdmin::oxtools($site, clock => $tc, tasks => [
    { name => 't.A' }, { name => 't.Slow' }, { name => 't.Slower' },
]);
my $ng = OxAdmin::nginx($site, ox => $ox, refresh => '1s', idle => '30s',
                        clock => $tc);
sub api { OxAdmin::api($ng, @_) }
sub states { OxAdmin::states(@_) }
sub job { api(GET => "jobs/$_[0]")->{json} }

sub running { $ox->running(@_) }

# the driver beat (polled: read its control, window and the time) after
# the tests' clock reached $ms
# (or ended)
sub beat_after {
    my ($id, $ms, $n) = @_;
    $n //= $ng;
    return OxTest::wait_for(sub {
        my $j = OxAdmin::api($n, GET => "jobs/$id")->{json};
        return ($j->{heartbeat} // 0) > $ms
               || ($j->{state} // '') !~ /^(running|interrupted)$/;
    }, 20, 0.1);
}

# moves the tests' clock on to HH:MM:30 (UTC) and waits until the worker
# saw it; a running job's heartbeat is then hours old until its next beat
# (GET says "interrupted" meanwhile): with a job id, waits for that beat
sub clock {
    my ($hhmm, $id) = @_;
    my ($h, $m) = split /:/, $hhmm;
    my $d = $h * 3600 + $m * 60 + 30 - ($tc->now - 86400 * int($tc->now / 86400));
    $d += 86400 if $d < 0;
    $tc->advance($d, $ng);
    beat_after($id, $tc->now_ms) if $id;
}
clock('00:30');

# ------------------------------------------------ closed, opens, closes

my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                         window => '01:00-02:00',
                                         only => [ @s[0 .. 2] ] });
is($r->{status}, 202, 'upgrade with a window, clock 00:30');
my $id = $r->{json}{job};
$tc->advance(31, $ng);    # longer than the idle time (30 s)
ok(beat_after($id, $tc->now_ms), 'the waiting job beats after its idle time');
my $job = job($id);
is($job->{state}, 'running', 'outside its window the job waits (running,'
   . ' not interrupted)');
is($job->{window}, '01:00-02:00', 'GET shows the window');
is($job->{window_open}, JSON::PP::false, 'window_open: false');
is_deeply(states($job), [ qw(pending pending pending) ], 'no schema started');
is_deeply([ grep { !/registerserver/ } @{ $ox->trace } ], [],
          'no tool ran but registerserver');

$ox->behave('new', 'runupdate', { pidfile => 1, hold => 60 });
clock('01:30');
ok(running('new', 'runupdate'), 'the window opens: a schema starts');
clock('02:30');
$ox->release('new', 'runupdate');
ok(OxTest::wait_for(sub { job($id)->{processed} == 1 }, 15, 0.2),
   "$s[0] (in flight when the window closed) finished");
$ox->behave('new', 'runupdate', {});
ok(beat_after($id, $tc->now_ms), '... and the driver looked again');
$job = job($id);
is($job->{state}, 'running', 'the window closed: the job waits');
is($job->{window_open}, JSON::PP::false, 'window_open: false again');
is_deeply(states($job), [ qw(done pending pending) ], 'nothing else started');

$r = api(PATCH => "jobs/$id", json => { window => '25:00-01:00' });
is($r->{status}, 400, 'PATCH of a malformed window: 400');
$ox->behave('new', 'runupdate', { pidfile => 1, hold => 60 });
$r = api(PATCH => "jobs/$id", json => { window => '02:00-01:00' });
is($r->{status}, 200, 'PATCH window 02:00-01:00 (spans midnight, holds 02:30)');
is($r->{json}{window}, '02:00-01:00', 'the new window');
is(job($id)->{window_open}, JSON::PP::true, 'window_open: true');
ok(running('new', 'runupdate'), 'the next schema starts');
clock('01:30', $id);    # closed again while it runs: the last one waits
$ox->release('new', 'runupdate');
ok(OxTest::wait_for(sub { job($id)->{processed} >= 2 }, 15, 0.2),
   'the next schema ran');
$ox->behave('new', 'runupdate', {});
$r = api(PATCH => "jobs/$id", json => { window => undef });
is($r->{status}, 200, 'PATCH window null: 200');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'without a window the job ends');
is($job->{window}, undef, 'no window');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      window => '1:00-2:00' });
is($r->{status}, 400, 'a window that is no HH:MM-HH:MM: 400');
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      window => '01:00-01:00' });
is($r->{status}, 400, 'an empty window: 400');

# ------------------------------------------------ a window over a crash

clock('00:30');
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      window => '01:00-02:00',
                                      only => [ $s[3] ] });
$id = $r->{json}{job};
$db->do("UPDATE oxmigrate_job SET state = 'interrupted' WHERE id = $id");
# (the live driver, having beaten since, loses its claim to the pause)
beat_after($id, $tc->now_ms);
$r = api(POST => "jobs/$id/pause");
is($r->{status}, 200, 'pause of the (made) interrupted waiting job');
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue');
ok(beat_after($id, job($id)->{heartbeat} // 0), 'the continued job beats');
is(job($id)->{processed}, 0, 'the continued job keeps its window (waits)');
clock('01:15', $id);
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'and runs when it opens');

# ------------------------------------------------ max_downtime

clock('01:30');
$ox->clear_log;
$ox->behave('new', 'runupdate', { pidfile => 1, hold => 60 });
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      max_downtime => 3,
                                      only => [ $s[4], $s[5] ] });
is($r->{status}, 202, 'upgrade with max_downtime 3 s');
$id = $r->{json}{job};
ok(running('new', 'runupdate'), "$s[4]'s runupdate runs (disabled)");
$tc->advance(4, $ng);    # it takes 4 s of the clock
ok(OxTest::wait_for(sub { (job($id)->{reason} // '') =~ /max_downtime/ },
                    20, 0.1), '... the driver found it disabled too long');
$ox->release('new', 'runupdate');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'paused', 'the job paused');
is_deeply(states($job), [ qw(done pending) ],
          "$s[4] finished (not killed), $s[5] did not start");
like($job->{reason} // '', qr/max_downtime: $s[4] was disabled for more than 3 s/,
     'the reason names the schema');
ok($job->{schemas}[0]{downtime_ms} > 3000, "$s[4]'s downtime is reported: "
   . ($job->{schemas}[0]{downtime_ms} // 'null') . ' ms');
is_deeply(OxAdmin::task_rows($s[4]), { 't.A' => 1, 't.Slow' => 1, 't.Slower' => 1 },
          'its tasks all ran');
# the cap has done its part: the next schema's downtime (five tool calls)
# must not depend on how fast the machine is
$db->do("UPDATE oxmigrate_job SET max_downtime = 600 WHERE id = $id");
$ox->behave('new', 'runupdate', {});
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'done');
is($job->{reason}, undef, 'the reason is cleared by the continue');

# ------------------------------------------------ utc offset, real clock

$tc->set(0, $ng);    # (the stand-in OX nodes' clock, for $ng2)
my $now = time;
sub hhmm { strftime('%H:%M', gmtime($_[0])) }
my $ng2 = OxAdmin::nginx($site, ox => $ox, refresh => '1s', idle => '3s',
                         extra => 'oxmigrate_job_utc_offset +05:00;');
my $utc = hhmm($now - 600) . '-' . hhmm($now + 600);
my $plus5 = hhmm($now + 5 * 3600 - 600) . '-' . hhmm($now + 5 * 3600 + 600);
$r = OxAdmin::api($ng2, POST => 'upgrade', json => {
    server => 'oxserver-new', continue => JSON::PP::true, window => $utc,
    only => [ $s[6] ] });
$id = $r->{json}{job};
ok(beat_after($id, OxAdmin::api($ng2, GET => "jobs/$id")->{json}{heartbeat}
                   // 0, $ng2), 'the job beats (its driver looked again)');
is(OxAdmin::api($ng2, GET => "jobs/$id")->{json}{processed}, 0,
   "+05:00: a window around the UTC time ($utc) is closed");
$r = OxAdmin::api($ng2, PATCH => "jobs/$id", json => { window => $plus5 });
$job = OxAdmin::wait_job($ng2, $id, 30);
is($job->{state}, 'done', "and one around UTC+5 ($plus5) is open");

done_testing();
