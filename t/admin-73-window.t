#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Time windows and max_downtime of an upgrade job, with a faked clock
# (oxmigrate_job_clock: a file holding "HH:MM"): outside its window a job
# starts no schema and waits (running, heartbeat fresh, never failed);
# the window opening starts it; closing lets the schema in flight finish
# and stops further ones; PATCH of the window (one spanning midnight,
# null); oxmigrate_job_utc_offset with the real clock; max_downtime: the
# schema is not stopped, the job pauses after it with the reason.

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

my $ox = OxAdmin::oxtools($site, tasks => [
    { name => 't.A' },
    { name => 't.Slow', sleep => 3, sleep_if_table => 'slow_flag' },
    { name => 't.Slower', sleep => 5, sleep_if_table => 'slower_flag' },
]);
my $clock = OxTest::tmpdir() . '/clock-' . OxTest::free_port();
sub clock { OxTest::_spew($clock, "$_[0]\n") }
clock('00:30');
my $ng = OxAdmin::nginx($site, ox => $ox, refresh => '1s', idle => '3s',
                        extra => "oxmigrate_job_clock $clock;");
sub api { OxAdmin::api($ng, @_) }
sub states { OxAdmin::states(@_) }
sub job { api(GET => "jobs/$_[0]")->{json} }

sub running { $ox->running(@_) }

# ------------------------------------------------ closed, opens, closes

my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                         window => '01:00-02:00',
                                         only => [ @s[0 .. 2] ] });
is($r->{status}, 202, 'upgrade with a window, clock 00:30');
my $id = $r->{json}{job};
sleep 4.5;    # longer than the idle time (3 s)
my $job = job($id);
is($job->{state}, 'running', 'outside its window the job waits (running,'
   . ' not interrupted)');
is($job->{window}, '01:00-02:00', 'GET shows the window');
is($job->{window_open}, JSON::PP::false, 'window_open: false');
is_deeply(states($job), [ qw(pending pending pending) ], 'no schema started');
is_deeply([ grep { !/registerserver/ } @{ $ox->trace } ], [],
          'no tool ran but registerserver');

OxAdmin::schema_sql($s[0], 'CREATE TABLE slow_flag (id INT)');
$ox->behave('new', 'runupdate', { pidfile => 1 });
my $t0 = time;
clock('01:30');
ok(running('new', 'runupdate'), 'the window opens: a schema starts');
ok(time - $t0 < 2.5, sprintf('within %.1f s', time - $t0));
clock('02:30');
$ox->behave('new', 'runupdate', {});
ok(OxTest::wait_for(sub { job($id)->{processed} == 1 }, 15, 0.2),
   "$s[0] (in flight when the window closed) finished");
sleep 2.5;
$job = job($id);
is($job->{state}, 'running', 'the window closed: the job waits');
is($job->{window_open}, JSON::PP::false, 'window_open: false again');
is_deeply(states($job), [ qw(done pending pending) ], 'nothing else started');

$r = api(PATCH => "jobs/$id", json => { window => '25:00-01:00' });
is($r->{status}, 400, 'PATCH of a malformed window: 400');
$r = api(PATCH => "jobs/$id", json => { window => '02:00-01:00' });
is($r->{status}, 200, 'PATCH window 02:00-01:00 (spans midnight, holds 02:30)');
is($r->{json}{window}, '02:00-01:00', 'the new window');
is(job($id)->{window_open}, JSON::PP::true, 'window_open: true');
ok(OxTest::wait_for(sub { job($id)->{processed} >= 2 }, 15, 0.2),
   'the next schema ran');
clock('01:30');
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
sleep 1.5;    # (the live driver loses its claim to the pause below)
$r = api(POST => "jobs/$id/pause");
is($r->{status}, 200, 'pause of the (made) interrupted waiting job');
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue');
sleep 2;
is(job($id)->{processed}, 0, 'the continued job keeps its window (waits)');
clock('01:15');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'and runs when it opens');

# ------------------------------------------------ max_downtime

clock('01:30');
$ox->clear_log;
OxAdmin::schema_sql($s[4], 'CREATE TABLE slower_flag (id INT)');
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      max_downtime => 3,
                                      only => [ $s[4], $s[5] ] });
is($r->{status}, 202, 'upgrade with max_downtime 3 s; the first takes 5 s'
   . ' (the second one s: five tool calls)');
$id = $r->{json}{job};
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
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue');
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'done');
is($job->{reason}, undef, 'the reason is cleared by the continue');

# ------------------------------------------------ utc offset, real clock

unlink $clock;
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
sleep 2.5;
is(OxAdmin::api($ng2, GET => "jobs/$id")->{json}{processed}, 0,
   "+05:00: a window around the UTC time ($utc) is closed");
$r = OxAdmin::api($ng2, PATCH => "jobs/$id", json => { window => $plus5 });
$job = OxAdmin::wait_job($ng2, $id, 30);
is($job->{state}, 'done', "and one around UTC+5 ($plus5) is open");

done_testing();
