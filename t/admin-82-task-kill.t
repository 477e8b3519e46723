#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# A worker killed (-9) at the worst moments of an update task, held there
# by a debugger breakpoint: after the task's statements ran but before
# its updateTask row (ngx_http_oxmigrate_admin_record), and right after
# the COMMIT of both (ngx_http_oxmigrate_admin_task_end).  The row is
# committed with the task, so the resumed job runs each task exactly
# once: never done but unrecorded.  The resume comes right after the job
# shows "interrupted", while the dead worker's LOCKED row is not dead
# yet: the job's runner waits for it to go idle instead of failing the
# schema with UPD-0003.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

plan skip_all => 'gdb is not installed' unless `which gdb` =~ /\S/;

my $site = OxAdmin::site('adm_tkill', schemas => 2, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

my $tasks = OxAdmin::tasks(
    '010_a.sql' => "-- task: t.A\nINSERT INTO run_log VALUES ('t.A');\n",
    '020_b.sql' => "-- task: t.B\nINSERT INTO run_log VALUES ('t.B');\n",
);
my $ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                        idle => '4s', allow => qr/exited on signal 9/);
sub api { OxAdmin::api($ng, @_) }

# gdb on the worker: stop at the first call of $fn, kill the worker there
sub gdb_kill_at {
    my ($pid, $fn) = @_;
    my $out = OxTest::tmpdir() . "/gdb-$fn-" . OxTest::free_port();
    my $gdb = fork // die "fork: $!";
    if (!$gdb) {
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        exec 'gdb', '-p', $pid, '-batch', '-nx',
             '-iex', 'set debuginfod enabled off',
             '-ex', 'set pagination off',
             '-ex', 'handle SIGPIPE SIGIO SIGALRM SIGCHLD nostop noprint pass',
             '-ex', "break $fn",
             '-ex', 'continue',
             '-ex', 'bt 4',
             '-ex', 'kill';
        exit 127;
    }
    ok(OxTest::wait_for(sub { (OxTest::_slurp($out) // '') =~ /^Breakpoint 1 at/m },
                        60, 0.1), "gdb waits at $fn in worker $pid")
        or diag(OxTest::_slurp($out));
    return ($gdb, $out);
}

for my $fn (qw(ngx_http_oxmigrate_admin_record
               ngx_http_oxmigrate_admin_task_end))
{
    for my $s (@s) {
        OxAdmin::schema_sql($s, 'DROP TABLE IF EXISTS run_log, updateTask;'
                            . ' CREATE TABLE run_log (task VARCHAR(64))');
    }
    $db->do("UPDATE context_server2db_pool SET server_id = 2;"
            . " UPDATE context SET enabled = 1, reason_id = NULL");

    my ($pid) = $ng->worker_pids;
    my ($gdb, $out) = gdb_kill_at($pid, $fn);

    my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                             continue => JSON::PP::true });
    is($r->{status}, 202, "$fn: upgrade started");
    my $id = $r->{json}{job};

    waitpid($gdb, 0);
    my $trace = OxTest::_slurp($out) // '';
    like($trace, qr/Breakpoint 1, .*\Q$fn\E/, "$fn: the breakpoint was hit")
        or diag($trace);
    ok(OxTest::wait_for(sub { !kill(0, $pid) }, 10), "$fn: worker killed");
    my $mid = OxAdmin::schema_sql($s[0], 'SELECT task FROM run_log');
    note("$fn: $s[0]'s run_log at the kill: "
         . join(',', map { $_->[0] } @$mid));

    ok(OxTest::wait_for(sub {
        (api(GET => "jobs/$id")->{json}{state} // '') eq 'interrupted'
    }, 20, 0.2), "$fn: the job shows interrupted");

    # The dead worker's LOCKED row, as if refreshed just before the kill:
    # not idle long enough when the job is resumed at once
    OxAdmin::schema_sql($s[0], "UPDATE updateTask SET lastModified ="
                        . int(time * 1000) . " WHERE taskName = 'LOCKED'");
    $r = api(POST => "jobs/$id/resume");
    is($r->{status}, 202, "$fn: resumed") or diag($r->{body});
    my $job = OxAdmin::wait_job($ng, $id, 60);
    is($job->{state}, 'done', "$fn: the resumed job is done");
    is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
              [ qw(done done) ], "$fn: no schema failed");

    for my $s (@s) {
        is_deeply(OxAdmin::schema_sql($s, 'SELECT task, COUNT(*) FROM run_log'
                                      . ' GROUP BY task ORDER BY task'),
                  [ [ 't.A', 1 ], [ 't.B', 1 ] ],
                  "$fn: $s: each task ran exactly once");
        is_deeply(OxAdmin::task_rows($s), { 't.A' => 1, 't.B' => 1 },
                  "$fn: $s: each recorded once, successful");
    }
}
like($ng->error_log, qr/update lock of schema \S+ is not refreshed any more: taken over/,
     'the resumed runner waited for the dead lock');

done_testing();
