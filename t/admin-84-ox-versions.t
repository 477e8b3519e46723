#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Issue 16: the upgrade against the OX that sites run, through the
# stand-in tools rebuilt from OX's sources (t/oxtools/FORMATS.md): the
# old cluster 7.10.0, the upgraded node 7.10.1 (and 8.0.0).
#
#   - a master password with !#$&*? '"\ and blanks: the admin console tools
#     read it from ADMIN_PASSWORD, the -P tools get it from the node-side
#     wrapper; no process on the balancer shows it in /proc/*/cmdline
#   - -r with the RMI hosts of both clusters: both drop the contexts
#   - the 7.10.1 tools refuse without credentials (a site configured as
#     7.10.0): 502 with OX's words, no task ran
#   - the errors OX swallows (its lock held, an SQL error inside the
#     update: nothing printed, exit 0): the schema's state says it was not
#     updated; a job never enables it
#   - a 7.10.x lock idle for 3 minutes is alive (no takeover on 7.10.x);
#     on 8.x it is dead and taken over
#   - a runupdate killed at its timeout while OX goes on: its state is
#     read after OX's work ended; still running: 504 / job interrupted,
#     resumed, never failed, never enabled before its update ended
#   - 8.x: listUpdateTasks -g, checkdatabase's progress line, unblock answers

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use MIME::Base64 ();
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_oxv', schemas => 10, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};
# this run's own (the pid): another run of this file at the same time (the
# plain and the ASan pass side by side) must not match the /proc scan below
my $PW = q{p !#$&*? '"\\ w} . $$;

my $tasks = [
    { name => 'com.openexchange.groupware.update.tasks.A' },
    { name => 't.Slow', sleep => 4, sleep_if_table => 'slow_flag' },
    { name => 't.Slower', sleep => 10, sleep_if_table => 'slower_flag' },
    { name => 't.Sql', sql_error_if_table => 'sql_error_flag' },
    { name => 't.Z' },
];
my $ox = OxAdmin::oxtools($site, tasks => $tasks, pass => $PW);
my $ng = OxAdmin::nginx($site, ox => $ox, rmi => 1, ox_timeout => '3s',
                        workers => 2);
sub api { OxAdmin::api($ng, @_) }

sub ctx_state { OxAdmin::ctx_state($site, $_[0]) }

# every process whose command line holds the password: [pid, cmdline]
sub cmdlines_with_password {
    my @hits;
    for my $f (glob '/proc/[0-9]*/cmdline') {
        open my $fh, '<', $f or next;
        local $/;
        my $c = <$fh> // '';
        close $fh;
        next unless index($c, $PW) >= 0;
        my ($pid) = $f =~ m{/proc/(\d+)/};
        next if $pid == $$;
        push @hits, [ $pid, join ' ', split /\0/, $c ];
    }
    return @hits;
}

sub lock_row {
    my ($schema, $age_ms) = @_;
    my $t = int(time * 1000) - $age_ms;
    OxAdmin::schema_sql($schema, "CREATE TABLE IF NOT EXISTS updateTask (cid"
        . " INT UNSIGNED NOT NULL, taskName VARCHAR(1024) NOT NULL,"
        . " successful BOOLEAN NOT NULL, lastModified BIGINT NOT NULL, uuid"
        . " BINARY(16) NOT NULL, PRIMARY KEY (cid, uuid));"
        . " DELETE FROM updateTask WHERE taskName = 'LOCKED';"
        . " INSERT INTO updateTask VALUES (0, 'LOCKED', 1, $t,"
        . " UNHEX('8d8b93e559794baca39daef8f87087a1'))");
}

sub locked {
    my ($schema) = @_;
    return eval { OxAdmin::schema_sql($schema, "SELECT COUNT(*) FROM"
                  . " updateTask WHERE taskName = 'LOCKED'")->[0][0] } // 0;
}

# ------------------------------------------------ the password

my $r = api(POST => "schemas/$s[0]/disable");
is($r->{status}, 200, 'disable with a password of !#$&*? \'"\\ and blanks');
is_deeply($ox->calls->[-1]{argv}, [ '-A', 'oxadminmaster', '-m', $s[0], '-r',
          $ox->rmi('old') . ',' . $ox->rmi('new') ],
          'disableschema -A -m S -r OLD,NEW: no password among its arguments');
ok($ox->calls->[-1]{env_password}, 'it came in ADMIN_PASSWORD');
is($ox->calls->[-1]{exit}, 0, 'and OX took it (exit 0, not 101)');

# a tool that reads ADMIN_PASSWORD, running: no process shows the password
$ox->behave('old', 'enableschema', { hold => 30, pidfile => 1 });
my $call = OxTest::http_start('POST', "/oxmigrate/v1/schemas/$s[0]/enable",
    port => $ng->port('A'), timeout => 30,
    headers => { Authorization => 'Basic ' . MIME::Base64::encode_base64(
                 "$OxAdmin::USER:$OxAdmin::PASS", '') });
ok(OxTest::wait_for(sub { -e $ox->dir('old') . '/enableschema.pid' }, 10,
   0.05), 'enableschema runs');
is_deeply([ cmdlines_with_password() ], [],
          'while it runs no /proc/*/cmdline holds the password');
$ox->release('old', 'enableschema');
is($call->wait->{status}, 200, 'enable: 200');
$ox->behave('old', 'enableschema', undef);
unlink $ox->dir('old') . '/enableschema.pid';

# a -P tool (runupdate, 7.10.1), running: only OX's tool itself on the node
OxAdmin::schema_sql($s[1], 'CREATE TABLE slow_flag (id INT)');
$call = OxTest::http_start('POST', "/oxmigrate/v1/schemas/$s[1]/update",
    port => $ng->port('A'), timeout => 30,
    headers => { Authorization => 'Basic ' . MIME::Base64::encode_base64(
                 "$OxAdmin::USER:$OxAdmin::PASS", '') });
ok(OxTest::wait_for(sub { locked($s[1]) }, 10, 0.05), 'runupdate runs');
my @p = cmdlines_with_password();
ok(@p, 'the 7.10.1 runupdate has it (OX reads it only from -P)');
is_deeply([ grep { $_->[1] !~ m{^\S*perl\S* \S+/new/runupdate --adminpass=} }
            @p ], [], 'and no other process: not nginx, not the wrapper'
          . ' (it exec()s the tool), no via command')
    or diag explain \@p;
$r = $call->wait;
$r->{json} = OxTest::json($r->{body});
is($r->{status}, 200, 'update: 200 (verified)');
like($r->{json}{ox}{argv}[0], qr{/contrib/oxmigrate-ox-password$},
     'through the password wrapper');
ok(!grep({ index($_, $PW) >= 0 } @{ $r->{json}{ox}{argv} }),
   'whose arguments carry no password');

# through ssh: a stand-in that does what ssh does with its words (joins
# them into one command line for the remote shell) and passes
# ADMIN_PASSWORD on as "SendEnv ADMIN_PASSWORD" would
my $ssh = OxTest::tmpdir() . '/ssh';
open my $fh, '>', $ssh or die "$ssh: $!";
print $fh "#!/bin/sh\n# ssh [-o OPT]... HOST COMMAND...\n"
        . "while [ \"\$1\" = -o ]; do shift 2; done\nshift\n"
        . "exec env -i PATH=\"\$PATH\" ADMIN_PASSWORD=\"\$ADMIN_PASSWORD\""
        . " /bin/sh -c \"\$*\"\n";
close $fh;
chmod 0755, $ssh;
my $ngs = OxAdmin::nginx($site, ox => $ox,
    via_old => "$ssh -o SendEnv=ADMIN_PASSWORD oxadmin\@ox-old-1",
    via_new => "$ssh -o SendEnv=ADMIN_PASSWORD oxadmin\@ox-new-1");
$r = OxAdmin::api($ngs, POST => "schemas/$s[0]/disable");
is($r->{status}, 200, 'via=ssh: disable with the odd password: 200');
is($ox->calls->[-1]{exit}, 0, 'the remote tool took it');
$r = OxAdmin::api($ngs, POST => "schemas/$s[0]/update");
is($r->{status}, 200, 'via=ssh: runupdate through the node\'s wrapper: 200')
    or diag explain $r->{json};
ok(!grep({ index($_, $PW) >= 0 } @{ $r->{json}{ox}{argv} }),
   'the remote command line carries no password');
is(OxAdmin::api($ngs, POST => "schemas/$s[0]/enable")->{status}, 200,
   'enabled again');
$ngs->stop;

# ------------------------------------------------ -r: both clusters

$ox->set_cache('old', { 5 => { enabled => 1 }, 6 => { enabled => 1 } });
$ox->set_cache('new', { 5 => { enabled => 1 }, 6 => { enabled => 1 },
                        7 => { enabled => 1 } });
$r = api(POST => "schemas/$s[2]/disable");
is($r->{json}{ox_caches}, 'invalidated by OX in both clusters', 'ox_caches');
for my $c (qw(old new)) {
    my $cache = $ox->cache($c);
    ok(!exists $cache->{5} && !exists $cache->{6},
       "the $c cluster dropped $s[2]'s contexts");
    is_deeply($cache->{sessions_closed}, [ 5, 6 ],
              "and closed their sessions in the $c cluster");
}
ok(exists $ox->cache('new')->{7}, 'other contexts stay');
is(api(POST => "schemas/$s[2]/enable")->{status}, 200, 'enabled again');

# ------------------------------------------------ refused without credentials

# a site that says its new node is 7.10.0: runupdate without -A/-P
my $ng0 = OxAdmin::nginx($site, ox => $ox, version_new => '7.10.0');
$r = OxAdmin::api($ng0, POST => "schemas/$s[3]/update");
is($r->{status}, 502, 'runupdate of 7.10.1 called as 7.10.0: 502');
like($r->{json}{error}{message}, qr/^runupdate \(new cluster\) exited with code 255: You must provide administrative credentials to proceed\./,
     "OX's refusal, its exit code 255");
is_deeply(OxAdmin::task_rows($s[3]), {}, 'no task ran');
$ng0->stop;

# ------------------------------------------------ errors OX swallows

# the schema's lock cannot be taken (an SQL error there): nothing printed,
# exit 0, no task ran
$ox->node_fault('new', { sql_error => 'lock' });
$ox->clear_log;
$r = api(POST => "schemas/$s[3]/update");
is($r->{status}, 502, 'OX swallowed an error of its update process: 502');
is($r->{json}{error}{code}, 'ox_update_failed', 'ox_update_failed');
like($r->{json}{error}{message}, qr/^runupdate ended but 1 task\(s\) of the new version are still pending on schema \Q$s[3]\E: \(checkdatabase: Needs update\)/,
     'the schema\'s own state says so (7.10.1: checkdatabase)');
my ($ru) = grep { $_->{tool} eq 'runupdate' } @{ $ox->calls };
is($ru->{exit}, 0, 'although runupdate exited 0');
ok(scalar @{ $ox->node_log('new') }, 'the node logged why');
$ox->node_fault('new', {});

# the same in a job: the schema is never enabled
$ox->node_fault('new', { sql_error => 'lock' });
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      force => JSON::PP::true,
                                      only => [ $s[3], $s[4] ] });
my $job = OxAdmin::wait_job($ng, $r->{json}{job}, 60);
$ox->node_fault('new', {});
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ], [ qw(failed failed) ],
          'a job: both schemas failed, force went on to the next');
like($job->{schemas}[0]{message}, qr/still pending/, 'with the reason');
is_deeply(ctx_state($s[3]), [ [ 0, 1431655765, 101 ] ],
          'disabled on the new server, never enabled (unlike OX\'s -f)');

# an SQL error inside a task's update: swallowed, the rest not run
OxAdmin::schema_sql($s[5], 'CREATE TABLE sql_error_flag (id INT)');
$r = api(POST => "schemas/$s[5]/update");
is($r->{status}, 502, 'an SQL error inside the update: 502');
like($r->{json}{error}{message}, qr/still pending/, 'tasks still pending');

# ------------------------------------------------ OX's lock by version

# 7.10.x refreshes its lock every 5 minutes and never takes one over:
# idle for 3 minutes is alive
lock_row($s[6], 180_000);
$r = api(GET => "schemas/$s[6]");
is($r->{json}{ox_lock}{live}, JSON::PP::true, '7.10.x: a lock idle 3 min is live');
$r = api(POST => "schemas/$s[6]/update");
is($r->{status}, 409, 'runupdate is not started: 409');
is($r->{json}{error}{code}, 'UPD-0003', 'UPD-0003');
is(locked($s[6]), 1, 'the lock is left alone');
$r = api(GET => 'schemas');
my ($row) = grep { $_->{name} eq $s[6] } @{ $r->{json}{schemas} // [] };
is($row->{status}, 'blocked', 'GET /schemas: blocked, not stale');

my $ox8 = OxAdmin::oxtools($site, tasks => $tasks, pass => $PW,
                           new_version => '8.0.0');
my $ng8 = OxAdmin::nginx($site, ox => $ox8);
$r = OxAdmin::api($ng8, GET => "schemas/$s[6]");
is($r->{json}{ox_lock}{live}, JSON::PP::false, '8.x: the same lock is dead');
$r = OxAdmin::api($ng8, POST => "schemas/$s[6]/update");
is($r->{status}, 200, '8.x: runupdate takes it over and runs') or diag explain $r->{json};
is(locked($s[6]), 0, 'no lock left');
ok(grep({ /^new:listUpdateTasks .* -g -n \Q$s[6]\E$/ } @{ $ox8->trace }),
   '8.x: verified with listUpdateTasks -g (pending), not -e (executed there)');

# ------------------------------------------------ 8.x answers

$r = OxAdmin::api($ng8, GET => 'databases/check');
is($r->{status}, 200, "8.x checkdatabase (progress line, padded table): 200");
like($r->{json}{ox}{stdout}, qr/^Checking database schemas\./,
     'its output starts with the progress line');
ok(scalar @{ $r->{json}{schemas} }, 'and its rows are read');

$r = OxAdmin::api($ng8, POST => 'databases/3/unblock');
is($r->{status}, 200, 'unblock with nothing stale: 200');
is($r->{json}{message}, 'database 3 is already unblocked', "OX's words");
is_deeply($r->{json}{unblocked}, [], 'nothing unblocked');
$r = OxAdmin::api($ng8, POST => 'databases/3/unblock',
                  json => { schema => $s[7] });
is($r->{json}{message}, "schema $s[7] is already unblocked", 'per schema');
lock_row($s[7], 25 * 3600_000);
$r = OxAdmin::api($ng8, POST => 'databases/3/unblock');
is($r->{status}, 200, 'a stale lock (24 h): unblocked');
like($r->{json}{message}, qr/^unblocked the following schemas from database 3:/,
     "OX's words");
is_deeply([ map { $_->{scheme} } @{ $r->{json}{unblocked} } ], [ $s[7] ],
          'the table after the blank line of 8.x, parsed');
is(locked($s[7]), 0, 'gone');
$ng8->stop;

# ------------------------------------------------ killed at the timeout

# runupdate's client is killed after 3 s; OX's update goes on 4 s: the
# state is read once OX's work ended
OxAdmin::schema_sql($s[8], 'CREATE TABLE slow_flag (id INT)');
$ox->clear_log;
$r = api(POST => "schemas/$s[8]/update");
is($r->{status}, 200, 'killed at the timeout, OX went on: 200 once it ended')
    or diag explain $r->{json};
($ru) = grep { $_->{tool} eq 'runupdate' } @{ $ox->calls };
ok(!defined $ru->{exit} || $ru->{exit} != 0, 'the client did not end by'
   . ' itself') if $ru;
is(OxAdmin::task_rows($s[8])->{'t.Slow'}, 1, 'the task ran to its end in OX');
like($ng->error_log, qr/did not finish within 3000 ms and was killed; reading the state of schema \Q$s[8]\E/,
     'logged');

# still running after the wait (timeout 3 s + 3 s, the task 10 s): 504
OxAdmin::schema_sql($s[9], 'CREATE TABLE slower_flag (id INT)');
$r = api(POST => "schemas/$s[9]/update");
is($r->{status}, 504, 'still running inside OX: 504');
is($r->{json}{error}{code}, 'ox_update_running', 'ox_update_running');
is(locked($s[9]), 1, 'its lock is live');
ok(OxTest::wait_for(sub { !locked($s[9]) }, 30, 0.2), 'OX finishes it');
$r = api(POST => "schemas/$s[9]/update");
is($r->{status}, 200, 'then it is verified: 200');

# in a job: interrupted, never failed, never enabled; resumed: done
OxAdmin::schema_sql($s[4], 'CREATE TABLE slower_flag (id INT)');
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      only => [ $s[4] ] });
my $id = $r->{json}{job};
$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'interrupted', 'a job whose runupdate still runs in OX:'
   . ' interrupted');
like($job->{schemas}[0]{message}, qr/^still running inside OX/, 'says so');
is_deeply(ctx_state($s[4]), [ [ 0, 1431655765, 101 ] ], 'not enabled');
ok(OxTest::wait_for(sub { !locked($s[4]) }, 30, 0.2), 'OX finishes it');
$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resume: 202');
$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'done');
is_deeply(ctx_state($s[4]), [ [ 1, undef, 101 ] ], 'enabled on the new server');

# what runupdate prints when no row says so (both generations' formats):
# its task names are kept, the schema is not enabled by a job
for my $out ("The following update task(s) failed: \n FooTask (schema=$s[8])\n",
             "The following update task(s) failed:\ntaskName className"
             . "                                  schema    \nFooTask  com.open"
             . "xchange.groupware.update.TaskInfo $s[8]\n") {
    $ox->behave('new', 'runupdate', { stdout => $out, exit => 0 });
    $r = api(POST => "schemas/$s[8]/update");
    is($r->{status}, 200, 'a runupdate that reports a failure: 200');
    is_deeply($r->{json}{failed}, [ 'FooTask' ],
              'failed: the name from its ' . ($out =~ /className/
              ? '7.10.1+ table' : '7.10.0 line'));
}
$ox->behave('new', 'runupdate', undef);

# the schema's database unreachable: runupdate is not started where its
# result cannot be read; not a failure, 503
my $dead = OxTest::free_port();
my ($url) = @{ $db->sql("SELECT url FROM db_pool WHERE db_pool_id = 3")->[0] };
$db->do("UPDATE db_pool SET url = 'jdbc:mysql://127.0.0.1:$dead/'"
        . " WHERE db_pool_id = 3");
$ox->clear_log;
$r = api(POST => "schemas/$s[8]/update");
$db->do("UPDATE db_pool SET url = '$url' WHERE db_pool_id = 3");
is($r->{status}, 503, "the schema's database unreachable: 503");
is($r->{json}{error}{code}, 'db_unavailable', 'db_unavailable');
like($r->{json}{error}{message}, qr/is not reachable: .*the schema stays disabled/,
     'says what it means');
ok(!grep({ $_->{tool} eq 'runupdate' } @{ $ox->calls }), 'runupdate not started');

unlike($ng->error_log, qr/\Q$PW\E/, 'the password is in no log line');
is(scalar(grep { "@$_" =~ /\Q$PW\E/ } @{ $db->sql("SELECT arguments, result"
   . " FROM oxmigrate_audit") }), 0, 'nor in the audit');

done_testing();
