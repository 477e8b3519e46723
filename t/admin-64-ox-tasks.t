#!/usr/bin/perl
# The update-task endpoints through the (stand-in) OX tools on the new
# cluster (7.10.6: listUpdateTasks exists): checkdatabase -A (password in
# ADMIN_PASSWORD), forceupdatetask -n S -t T and -t T (all schemas),
# unblockdatabase -i ID [--schema S], listUpdateTasks -a,
# listUpdateTaskNamespaces (-P through the wrapper); the answers parse the
# tools' padded tables; names that are no safe argument are refused.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_oxtask', schemas => 3, contexts => 1);
my @s = @{ $site->{schemas} };
my $cred = "-A oxadminmaster";
my $pcred = "--adminpass=$OxAdmin::PASS -A oxadminmaster";

my $ox = OxAdmin::oxtools($site, tasks => [
    { name => 't.A' },
    { name => 't.Bad', fail_if_table => 'make_bad_fail' },
    { name => 't.U1', namespace => 'groupware.utf8mb4' },
    { name => 't.U2', namespace => 'groupware.utf8mb4' },
    { name => 't.File' },
    { name => 't.N', namespace => 'other.ns' },
], excluded_ns => [ 'groupware.utf8mb4' ], excluded_tasks => [ 't.File' ],
   new_version => '7.10.6');
my $ng = OxAdmin::nginx($site, ox => $ox,
                        extra => 'oxmigrate_excluded_namespaces'
                                 . ' groupware.utf8mb4;');
sub api { OxAdmin::api($ng, @_) }

my $r = api(GET => 'databases/check');
is($r->{status}, 200, 'check: 200');
is_deeply($r->{json}{schemas}, [ map { { id => 3, name => 'oxdb',
          hostname => '127.0.0.1', scheme => $_, status => 'Needs update' } }
          @s ], "checkdatabase's table, parsed");
is_deeply($ox->trace, [ "new:checkdatabase $cred" ],
          'checkdatabase -A on the new cluster');
is($r->{json}{ox}{tool}, 'checkdatabase', 'the answer shows the tool');

# ------------------------------------------------ listUpdateTasks

$ox->clear_log;
$r = api(GET => "schemas/$s[0]/updatetasks?state=all");
is($r->{status}, 200, 'updatetasks: 200');
is_deeply([ map { "$_->{name}:$_->{state}:" . ($_->{excluded_by} // '')
                  . ':' . ($_->{namespace} // '') } @{ $r->{json}{tasks} } ],
          [ 't.A:pending::', 't.Bad:pending::',
            "t.File:excluded:excluded via file 'excludedupdatetask.properties':",
            't.N:pending::',
            "t.U1:excluded:excluded via namespace 'groupware.utf8mb4'"
            . ':groupware.utf8mb4',
            "t.U2:excluded:excluded via namespace 'groupware.utf8mb4'"
            . ':groupware.utf8mb4' ],
          "what listUpdateTasks -a says, parsed (OX's order, by name); an"
          . " excluded task is not also pending; t.N of a namespace the site"
          . " does not exclude is pending (OX's -xn lists it as excluded)");
is_deeply($ox->trace, [ "new:listUpdateTasks $pcred -a -n $s[0]" ],
          'listUpdateTasks -A -P -a -n SCHEMA on the new cluster');
$r = api(GET => "schemas/$s[0]/updatetasks?state=excluded");
is(scalar @{ $r->{json}{tasks} }, 3, 'state=excluded filters');

$ox->clear_log;
$r = api(GET => 'updatetasks/namespaces');
is_deeply($r->{json}{namespaces}, [ { name => 'groupware.utf8mb4',
          excluded => JSON::PP::true, tasks => [ 't.U1', 't.U2' ] },
          { name => 'other.ns', excluded => JSON::PP::false,
            tasks => [ 't.N' ] } ],
          'listUpdateTaskNamespaces, parsed');
is_deeply($ox->trace, [ "new:listUpdateTaskNamespaces $pcred" ],
          'listUpdateTaskNamespaces -A -P on the new cluster');

for my $x (@s) {
    is(api(POST => "schemas/$x/update")->{status}, 200, "update $x");
}

$ox->clear_log;
$r = api(GET => "schemas/$s[0]/updatetasks?state=executed");
is_deeply([ map { "$_->{name}:$_->{state}:" . ($_->{successful} ? 1 : 0) }
            @{ $r->{json}{tasks} } ], [ 't.A:executed:1', 't.Bad:executed:1',
                                        't.N:executed:1' ],
          'executed: the rows OX wrote');
ok($r->{json}{tasks}[0]{last_modified} > 1e12, 'with lastModified (ms)');
is_deeply($ox->trace, [], 'state=executed needs no tool');
$r = api(GET => 'databases/check');
is_deeply($r->{json}{schemas}, [], 'nothing to report');
is($r->{json}{message}, 'Neither pending, blocking nor stale schemas found',
   "OX's words");

# ------------------------------------------------ forceupdatetask

OxAdmin::schema_sql($s[1], 'CREATE TABLE make_bad_fail (id INT)');
$ox->clear_log;
$r = api(POST => "schemas/$s[1]/updatetasks/t.Bad/force");
is($r->{status}, 200, 'force: 200');
is($r->{json}{successful}, JSON::PP::false, 'the task failed (its row)');
is_deeply($ox->trace, [ "new:forceupdatetask $pcred -n $s[1] -t t.Bad" ],
          'forceupdatetask -n SCHEMA -t TASK on the new cluster');
OxAdmin::schema_sql($s[1], 'DROP TABLE make_bad_fail');
$r = api(POST => "schemas/$s[1]/updatetasks/t.Bad/force");
is($r->{json}{successful}, JSON::PP::true, 'forced again: successful');
is($r->{json}{error}, undef, 'no error');

$r = api(POST => "schemas/$s[1]/updatetasks/t.Nope/force");
is($r->{status}, 502, 'a task OX does not know: 502');
like($r->{json}{error}{message}, qr/^forceupdatetask \(new cluster\) exited with code 1: \S.*t\.Nope/,
     'tool, exit code and stderr');
$r = api(POST => "schemas/$s[1]/updatetasks/-x/force");
is($r->{status}, 400, 'a task name that is no safe argument: 400');
$r = api(POST => "schemas/nope/updatetasks/t.A/force");
is($r->{status}, 404, 'an unknown schema: 404');

$ox->clear_log;
$r = api(POST => 'updatetasks/t.A/force');
is($r->{status}, 200, 'force on every schema: 200');
is_deeply($ox->trace, [ "new:forceupdatetask $pcred -t t.A" ],
          'forceupdatetask -t TASK (no -n: every schema)');
is_deeply([ map { "$_->{name}:" . ($_->{successful} ? 1 : 0) }
            @{ $r->{json}{schemas} } ], [ map { "$_:1" } @s ],
          'every schema ran it');

# ------------------------------------------------ unblockdatabase

# stale for checkdatabase and unblockdatabase: 24 h (OX's update-task page)
my $old = int(time * 1000) - 25 * 3600_000;
OxAdmin::schema_sql($s[2], "INSERT INTO updateTask VALUES (0, 'LOCKED', 1,"
                    . " $old, UNHEX('8d8b93e559794baca39daef8f87087a1'))");
$r = api(GET => 'databases/check');
is_deeply([ map { "$_->{scheme}:$_->{status}" } @{ $r->{json}{schemas} } ],
          [ "$s[2]:Blocking updates running for too long" ], 'a stale lock');

$ox->clear_log;
$r = api(POST => 'databases/3/unblock', json => { schema => $s[2] });
is($r->{status}, 200, 'unblock: 200');
is_deeply($r->{json}{unblocked}, [ { id => 3, scheme => $s[2] } ],
          'unblocked: "schema S unblocked", parsed');
is($r->{json}{message}, "schema $s[2] unblocked", "OX's words");
is_deeply($ox->trace, [ "new:unblockdatabase $pcred -i 3 --schema $s[2]" ],
          'unblockdatabase -A -P -i ID --schema S on the new cluster');
is(OxAdmin::schema_sql($s[2], "SELECT COUNT(*) FROM updateTask WHERE"
   . " taskName = 'LOCKED'")->[0][0], 0, 'the dead lock is gone');

$r = api(POST => 'databases/3/unblock', json => { schema => '--all' });
is($r->{status}, 400, 'a schema that is no safe argument: 400');

# ------------------------------------------------ garbage

$ox->behave('new', 'checkdatabase', { stdout => "Exception in thread main\n",
                                      exit => 0 });
$r = api(GET => 'databases/check');
is($r->{status}, 502, 'checkdatabase printing garbage with exit 0: 502');
like($r->{json}{error}{message}, qr/^checkdatabase \(new cluster\) exited with code 0 but its output has no/,
     'not taken for "nothing to report"');
$ox->behave('new', 'checkdatabase', undef);
$ox->behave('new', 'unblockdatabase', { stdout => "", exit => 0 });
is(api(POST => 'databases/3/unblock')->{status}, 502,
   'unblockdatabase printing nothing: 502');
$ox->behave('new', 'unblockdatabase', undef);
$ox->behave('new', 'listUpdateTasks', { stdout => "?\n", exit => 0 });
is(api(GET => "schemas/$s[0]/updatetasks")->{status}, 502,
   'listUpdateTasks without its header: 502');
$ox->behave('new', 'listUpdateTasks', undef);

# ------------------------------------------------ POST /updates

$ox->tasks([ { name => 't.A' }, { name => 't.New' },
             { name => 't.Stop', fail_if_table => 'stop_here' } ]);
OxAdmin::schema_sql($s[1], 'CREATE TABLE stop_here (id INT)');
$ox->clear_log;
$r = api(POST => 'updates', json => { stop_on_error => JSON::PP::true });
is($r->{status}, 202, 'runallupdate: 202');
my $job = OxAdmin::wait_job($ng, $r->{json}{job});
like($job->{ox_caches}, qr/^invalidated by OX/, 'the job ran the tools');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ qw(done failed pending) ], 'stop_on_error: stops at the failure');
is_deeply($job->{schemas}[1]{failed_tasks}, [ 't.Stop' ],
          'the failed task, as its row says');
is_deeply([ grep { /runupdate/ } @{ $ox->trace } ],
          [ "new:runupdate $pcred -n $s[0]", "new:runupdate $pcred -n $s[1]" ],
          'runupdate -n SCHEMA per schema on the new cluster');
is_deeply([ grep { !/runupdate/ } @{ $ox->trace } ],
          [ ("new:listUpdateTasks $pcred -xf -n $s[0]",
             "new:listUpdateTaskNamespaces $pcred",
             "new:listUpdateTasks $pcred -e -n $s[0]") ],
          'verified after the first (listUpdateTasks -xf, the namespaces,'
          . ' -e); the second has a failed task: nothing to ask');

# OX's exclusions are the same for every schema: a job reads them once
$ox->clear_log;
$r = api(POST => 'updates', json => { only => [ $s[0], $s[2] ] });
is($r->{status}, 202, 'runallupdate of two schemas: 202');
$job = OxAdmin::wait_job($ng, $r->{json}{job});
is_deeply([ map { "$_->{name}:$_->{state}" } @{ $job->{schemas} } ],
          [ "$s[0]:done", "$s[2]:done" ], 'both done');
is_deeply([ grep { !/runupdate/ } @{ $ox->trace } ],
          [ "new:listUpdateTasks $pcred -xf -n $s[0]",
            "new:listUpdateTaskNamespaces $pcred",
            "new:listUpdateTasks $pcred -e -n $s[0]",
            "new:listUpdateTasks $pcred -e -n $s[2]" ],
          'the exclusions read once per job (-xf, the namespaces), the'
          . ' pending tasks (-e) of every schema');

done_testing();
