#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Update tasks through the admin API: runupdate, listUpdateTasks,
# forceupdatetask (one schema and all), listupdatetasknamespaces,
# checkdatabase, unblockdatabase; OX's LOCKED row with its refresh and idle
# time; exclusions by file and namespace; a task with bad SQL.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_upd', schemas => 3, contexts => 2);
my ($s1, $s2, $s3) = @{ $site->{schemas} };
my $LOCKED = '8d8b93e559794baca39daef8f87087a1';

# ------------------------------------------------ the shipped examples

my $excl = OxTest::tmpdir() . '/excludedupdatetasks.properties';
open my $fh, '>', $excl or die;
print $fh "# excluded by the site\n"
        . "com.openexchange.groupware.update.tasks."
        . "ContactsAddIndex4AutoCompleteSearch=true\n";
close $fh;

my $ng = OxAdmin::nginx($site, extra => "
            oxmigrate_excluded_update_tasks $excl;
            oxmigrate_excluded_namespaces groupware.utf8mb4;");
sub api { OxAdmin::api($ng, @_) }

my $HIDDEN = 'com.openexchange.chronos.storage.rdb.groupware.'
           . 'CalendarAttendeeAddHiddenColumnTask';
my $INDEX = 'com.openexchange.groupware.update.tasks.'
          . 'ContactsAddIndex4AutoCompleteSearch';
my $UTF8 = 'com.openexchange.groupware.update.tasks.'
         . 'ResourceTablesUtf8Mb4UpdateTask';

my $r = api(GET => "schemas/$s1/updatetasks");
is($r->{status}, 200, 'listUpdateTasks');
my %t = map { $_->{name} => $_ } @{ $r->{json}{tasks} };
is($t{$HIDDEN}{state}, 'pending', 'column task pending');
is($t{$INDEX}{state}, 'excluded', 'index task excluded');
is($t{$INDEX}{excluded_by},
   "excluded via file 'excludedupdatetask.properties'", 'OX words: file');
is($t{$UTF8}{state}, 'excluded', 'utf8mb4 task excluded');
is($t{$UTF8}{excluded_by}, "excluded via namespace 'groupware.utf8mb4'",
   'OX words: namespace');
is($t{$UTF8}{namespace}, 'groupware.utf8mb4', 'its namespace');

$r = api(GET => "schemas/$s1/updatetasks?state=pending");
is_deeply([ map { $_->{name} } @{ $r->{json}{tasks} } ], [$HIDDEN],
          'state=pending');
$r = api(GET => "schemas/$s1/updatetasks?state=excluded");
is(scalar @{ $r->{json}{tasks} }, 2, 'state=excluded');
$r = api(GET => "schemas/$s1/updatetasks?state=bogus");
is($r->{status}, 400, 'bad state: 400');
$r = api(GET => "schemas/nope/updatetasks");
is($r->{status}, 404, 'unknown schema: 404');

$r = api(GET => 'updatetasks/namespaces');
is_deeply($r->{json}, { namespaces => [ { name => 'groupware.utf8mb4',
                                          excluded => JSON::PP::true,
                                          tasks => [$UTF8] } ] },
          'listupdatetasknamespaces');

$r = api(GET => 'databases/check');
is(scalar @{ $r->{json}{schemas} }, 3, 'check: three schemas');
is($r->{json}{schemas}[0]{status}, 'Needs update', 'Needs update');
is($r->{json}{schemas}[0]{id}, 3, 'database id');
is($r->{json}{schemas}[0]{name}, 'oxdb', 'database name');
is($r->{json}{schemas}[0]{hostname}, '127.0.0.1', 'hostname');
is($r->{json}{schemas}[0]{scheme}, $s1, 'scheme');

$r = api(POST => "schemas/$s1/update");
is($r->{status}, 200, 'runupdate');
is_deeply($r->{json}, { schema => $s1, executed => [$HIDDEN], failed => [],
                       ox_caches => 'not invalidated' },
          'the one pending task ran');
is_deeply(OxAdmin::task_rows($s1), { $HIDDEN => 1 }, 'its updateTask row');
is(OxAdmin::schema_sql($s1, "SELECT COUNT(*) FROM information_schema.columns"
   . " WHERE table_schema = '$s1' AND table_name = 'calendar_attendee'"
   . " AND column_name = 'hidden'")->[0][0], 1, 'the column exists');
is(OxAdmin::schema_sql($s1, "SELECT COUNT(*) FROM updateTask"
   . " WHERE taskName = 'LOCKED'")->[0][0], 0, 'the lock is gone');
is_deeply(OxAdmin::schema_sql($s1, "SELECT cid, HEX(uuid) <> '$LOCKED',"
   . " lastModified > 1600000000000 FROM updateTask")->[0],
   [0, 1, 1], 'cid 0, own uuid, lastModified in ms');

$r = api(POST => "schemas/$s1/update");
is_deeply($r->{json}{executed}, [], 'again: nothing to do');

$r = api(GET => "schemas/$s1/updatetasks?state=executed");
is($r->{json}{tasks}[0]{successful}, JSON::PP::true, 'executed, successful');
ok($r->{json}{tasks}[0]{last_modified} > 1600000000000, 'lastModified');

# a row of a task this site does not configure (another version's, or
# written by OX itself) is listed once, as executed
OxAdmin::schema_sql($s1, "INSERT INTO updateTask (cid, taskName, successful,"
    . " lastModified, uuid) VALUES (0, 'com.example.ForeignTask', 1,"
    . " 1700000000000, UNHEX(REPLACE(UUID(), '-', '')))");
my $n0 = scalar @{ $r->{json}{tasks} };
$r = api(GET => "schemas/$s1/updatetasks?state=all");
my @foreign = grep { $_->{name} eq 'com.example.ForeignTask' } @{ $r->{json}{tasks} };
is(scalar @foreign, 1, 'a task not configured here: listed once');
is($foreign[0]{state}, 'executed', '... as executed') or diag(explain(\@foreign));
my %seen;
$seen{ $_->{name} }++ for @{ $r->{json}{tasks} };
is_deeply([ sort grep { $seen{$_} > 1 } keys %seen ], [],
          'no task is listed twice (configured ones with their row, once)');
$r = api(GET => "schemas/$s1/updatetasks?state=executed");
is(scalar @{ $r->{json}{tasks} }, $n0 + 1, '... and among the executed ones, once');
OxAdmin::schema_sql($s1, "DELETE FROM updateTask WHERE taskName = 'com.example.ForeignTask'");

$r = api(GET => 'schemas');
my %st = map { $_->{name} => $_->{status} } @{ $r->{json}{schemas} };
is($st{$s1}, 'ok', "schemas: $s1 ok");
is($st{$s2}, 'needs update', "schemas: $s2 needs update");

# force an excluded task on one schema, then on all
$r = api(POST => "schemas/$s1/updatetasks/$UTF8/force");
is($r->{status}, 200, 'forceupdatetask');
is($r->{json}{successful}, JSON::PP::true, 'ran');
is(OxAdmin::schema_sql($s1, "SELECT table_collation FROM"
   . " information_schema.tables WHERE table_schema = '$s1'"
   . " AND table_name = 'resource'")->[0][0], 'utf8mb4_unicode_ci',
   'resource converted to utf8mb4');

$r = api(POST => "schemas/$s1/updatetasks/nope/force");
is($r->{status}, 404, 'unknown task: 404');

$r = api(POST => "updatetasks/$INDEX/force");
is($r->{status}, 200, 'forceupdatetask on all schemas');
is_deeply([ map { [ $_->{name}, $_->{successful} ] }
            @{ $r->{json}{schemas} } ],
          [ [ $s1, JSON::PP::true ], [ $s2, JSON::PP::true ],
            [ $s3, JSON::PP::true ] ], 'on every schema');
is(OxAdmin::task_rows($s3)->{$INDEX}, 1, 'recorded');

$ng->stop;

# ------------------------------------------------ failures, locks, refresh

my $tasks = OxAdmin::tasks(
    '010_ok.sql' => "-- task: t.Ok\nCREATE TABLE IF NOT EXISTS ok_marker"
                  . " (id INT);\n",
    '020_bad.sql' => "-- task: t.Bad\nINSERT INTO bad_marker VALUES (1);\n",
    '030_after.sql' => "-- task: t.After\n-- only a comment: a no-op\n",
    '040_multi.sql' => "-- task: t.Multi\nCREATE TABLE m1 (id INT);\n"
                     . "INSERT INTO m1 VALUES (1), (2);\n"
                     . "SELECT COUNT(*) FROM m1;\n"
                     . "CREATE TABLE m2 AS SELECT * FROM m1;\n",
);
$ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s', idle => '3s');

$r = api(POST => "schemas/$s2/update");
is($r->{status}, 200, 'runupdate with a bad task');
is_deeply($r->{json}{executed}, ['t.Ok', 't.After', 't.Multi'],
          'the good ones ran');
is_deeply($r->{json}{failed}, ['t.Bad'], 'the bad one is listed as failed');
is_deeply(OxAdmin::task_rows($s2),
          { 't.Ok' => 1, 't.Bad' => 0, 't.After' => 1, 't.Multi' => 1,
            $INDEX => 1 },
          'row successful=false for the bad task');
is(OxAdmin::schema_sql($s2, 'SELECT COUNT(*) FROM m2')->[0][0], 2,
   'every statement of a multi-statement task ran');

$r = api(POST => "schemas/$s2/update");
is_deeply($r->{json}{executed}, [], 'a failed task is not re-run by update');

OxAdmin::schema_sql($s2, 'CREATE TABLE bad_marker (id INT)');
$r = api(POST => "schemas/$s2/updatetasks/t.Bad/force");
is($r->{json}{successful}, JSON::PP::true, 'forced after the fix: runs');
is(OxAdmin::task_rows($s2)->{'t.Bad'}, 1, 'the row says successful');
is(OxAdmin::schema_sql($s2, "SELECT COUNT(*) FROM updateTask"
   . " WHERE taskName = 't.Bad'")->[0][0], 1, 'still one row per task');

# a live lock of another holder
my $now = int(time * 1000);
OxAdmin::schema_sql($s3, "INSERT INTO updateTask VALUES"
                    . " (0, 'LOCKED', 1, $now, UNHEX('$LOCKED'))");
$r = api(POST => "schemas/$s3/update");
is($r->{status}, 409, 'live lock: 409');
is($r->{json}{error}{code}, 'UPD-0003', 'UPD-0003');
is($r->{json}{error}{message}, 'Update conflict detected. Another process'
   . " is currently updating schema $s3.", 'OX message');
$r = api(POST => "schemas/$s3/updatetasks/t.Ok/force");
is_deeply([ $r->{status}, $r->{json}{error}{code} ], [ 409, 'UPD-0003' ],
          'force under a live lock: 409 UPD-0003');
$r = api(POST => 'updatetasks/t.Ok/force');
is_deeply([ map { [ $_->{name}, $_->{successful} ? 1 : 0,
                    ($_->{error} // '') =~ /^Update conflict/ ? 1 : 0 ] }
            @{ $r->{json}{schemas} } ],
          [ [ $s1, 1, 0 ], [ $s2, 1, 0 ], [ $s3, 0, 1 ] ],
          'force on all schemas: the locked one reports the conflict');

$r = api(GET => 'databases/check');
my %chk = map { $_->{scheme} => $_->{status} } @{ $r->{json}{schemas} };
is($chk{$s3}, 'Blocking updates running', 'check: blocking');

$r = api(POST => 'databases/3/unblock');
is($r->{status}, 200, 'unblockdatabase');
is_deeply($r->{json}{unblocked}, [], 'a live lock is not removed');
is($r->{json}{kept}[0]{scheme}, $s3, 'it is reported');

# the holder stopped refreshing 4 s ago (idle 3 s)
OxAdmin::schema_sql($s3, "UPDATE updateTask SET lastModified = "
                    . ($now - 4000) . " WHERE taskName = 'LOCKED'");
$r = api(GET => 'databases/check');
%chk = map { $_->{scheme} => $_->{status} } @{ $r->{json}{schemas} };
is($chk{$s3}, 'Blocking updates running for too long', 'check: too long');
$r = api(GET => 'schemas');
%st = map { $_->{name} => $_->{status} } @{ $r->{json}{schemas} };
is($st{$s3}, 'stale', 'schemas: stale');

$r = api(POST => 'databases/3/unblock', json => { schema => 'nope' });
is($r->{status}, 404, 'unblock an unknown schema: 404');
$r = api(POST => 'databases/77/unblock');
is($r->{status}, 404, 'unblock an unknown database: 404');

$r = api(POST => 'databases/3/unblock', json => { schema => $s3 });
is($r->{status}, 200, 'unblock the dead lock');
is_deeply([ map { $_->{scheme} } @{ $r->{json}{unblocked} } ], [$s3],
          'listed as unblocked');
is(OxAdmin::schema_sql($s3, "SELECT COUNT(*) FROM updateTask"
   . " WHERE taskName = 'LOCKED'")->[0][0], 0, 'the LOCKED row is gone');

# a dead lock is taken over by an update without unblock
OxAdmin::schema_sql($s3, "INSERT INTO updateTask VALUES"
                    . " (0, 'LOCKED', 1, " . ($now - 10000)
                    . ", UNHEX('$LOCKED'))");
$r = api(POST => "schemas/$s3/update");
is($r->{status}, 200, 'a dead lock is taken over');
is(scalar @{ $r->{json}{executed} }, 3, 'and the tasks ran');

$ng->stop;

# ------------------------------------------------ refresh, concurrency

# waits until an update holds the schema's LOCKED row
sub locked {
    my ($s) = @_;
    return OxTest::wait_for(sub {
        OxAdmin::schema_sql($s, "SELECT COUNT(*) FROM updateTask"
                            . " WHERE taskName = 'LOCKED'")->[0][0] }, 10);
}

my $slow = OxAdmin::tasks(
    '010_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(5);\n",
    '020_next.sql' => "-- task: t.Next\nCREATE TABLE next_marker (id INT);\n",
);
$ng = OxAdmin::nginx($site, tasks => $slow, refresh => '1s', idle => '3s');

my $first = OxTest::http_start(POST => "/oxmigrate/v1/schemas/$s1/update",
    port => $ng->port('A'), timeout => 30,
    headers => { Authorization => 'Basic '
                 . MIME::Base64::encode_base64("$OxAdmin::USER:$OxAdmin::PASS",
                                               '') });
ok(locked($s1), "the first update holds ${s1}'s lock");
$r = api(POST => "schemas/$s1/update");
is($r->{status}, 409, 'two updates of one schema at once: the second 409');

# past the idle time the lock is still refreshed, so still held
sleep 3;
my $lm = OxAdmin::schema_sql($s1, "SELECT lastModified FROM updateTask"
                             . " WHERE taskName = 'LOCKED'")->[0][0];
ok($lm && int(time * 1000) - $lm < 2500,
   'the lock is refreshed while a task runs longer than the idle time');
$r = api(POST => "schemas/$s1/update");
is($r->{status}, 409, 'and not taken over');

my $t0 = time;
$r = api(GET => 'servers');
ok(time - $t0 < 1, 'other calls are answered meanwhile');

my $fr = $first->wait;
is($fr->{status}, 200, 'the first update finishes');
is_deeply(OxTest::json($fr->{body})->{executed}, ['t.Slow', 't.Next'],
          'and ran both tasks, once');

$ng->stop;

# ------------------------------------------------ a full thread pool

OxAdmin::schema_sql($s2, "DELETE FROM updateTask");
# updates run on the job pool; here it is the API's own (one thread)
$ng = OxAdmin::nginx($site, tasks => $slow, pool => 'threads=1 max_queue=1',
                     extra => 'oxmigrate_job_thread_pool oxmigrate;');
my $auth = { Authorization => 'Basic ' . MIME::Base64::encode_base64(
                 "$OxAdmin::USER:$OxAdmin::PASS", '') };
my $busy = OxTest::http_start(POST => "/oxmigrate/v1/schemas/$s2/update",
                              port => $ng->port('A'), timeout => 30,
                              headers => $auth);
ok(locked($s2), "an update runs on the one thread (it holds ${s2}'s lock)");
my $queued = OxTest::http_start(GET => '/oxmigrate/v1/servers',
                                port => $ng->port('A'), timeout => 30,
                                headers => $auth);
sleep 0.2;
$r = api(GET => 'servers');
is($r->{status}, 503, 'the thread pool queue is full: 503');
is($r->{json}{error}{code}, 'busy', 'busy');
is($queued->wait->{status}, 200, 'the queued call is answered later');
is($busy->wait->{status}, 200, 'and the running one');

$ng->stop;
done_testing();
