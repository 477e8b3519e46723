#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The OX connector, one step at a time: with oxmigrate_ox_tools the
# endpoints run the (stand-in) OX tools with exactly the documented flags
# on the right cluster (old: registerserver, disableschema, changeserver,
# enableschema; new: runupdate), the OX nodes' cache is invalidated, the
# answer carries what the tool said and the password reaches no answer,
# audit row or log line.  Tools that fail, hang past the timeout (killed
# and reaped), print garbage or are missing give clear errors.  Without
# the tools: the SQL steps, "ox_caches":"not invalidated" and one warning.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_ox', schemas => 3, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};
my $P = $OxAdmin::PASS;

my $ox = OxAdmin::oxtools($site, tasks => [
    { name => 'com.openexchange.groupware.update.tasks.A' },
    { name => 't.Bad', fail_if_table => 'make_bad_fail' },
]);
my $ng = OxAdmin::nginx($site, ox => $ox, ox_quick => '2s');
sub api { OxAdmin::api($ng, @_) }
sub last_call { $ox->calls->[-1] }

sub ctx_state { OxAdmin::ctx_state($site, $_[0]) }

unlike($ng->error_log, qr/ox_caches/,
       'no "not invalidated" warning with the tools configured');

# ------------------------------------------------ disableschema

# the old cluster's nodes have the contexts of $s[0] and $s[1] cached
$ox->set_cache('old', { map { $_ => { enabled => 1, server_id => 2 } }
                        1 .. 4 });

my $r = api(POST => "schemas/$s[0]/disable");
is($r->{status}, 200, 'disable: 200');
is($r->{json}{contexts}, 2, 'both contexts disabled');
like($r->{json}{ox_caches}, qr/^invalidated by OX in the old cluster only: the new cluster was not reached/, 'ox_caches: which cluster OX reached (no rmi=)');
is($r->{json}{ox}{tool}, 'disableschema', 'the answer names the tool');
is($r->{json}{ox}{cluster}, 'old', 'on the old cluster');
is($r->{json}{ox}{exit_code}, 0, 'and its exit code');
is_deeply($r->{json}{ox}{argv}, [ $ox->dir('old') . '/disableschema',
          '-A', 'oxadminmaster', '-m', $s[0] ],
          'the argv shown: no password (it is in ADMIN_PASSWORD)');
is_deeply($ox->trace, [ "old:disableschema -A oxadminmaster -m $s[0]" ],
          'disableschema -A -m SCHEMA ran once, on the old cluster');
ok($ox->calls->[-1]{env_password}, 'with the password in the environment');
is_deeply(ctx_state($s[0]), [ [ 0, 1431655765, 2 ] ],
          'the tool disabled the contexts (maintenance reason)');
my $cache = $ox->cache('old');
ok(!exists $cache->{1} && !exists $cache->{2},
   "the old nodes dropped $s[0]'s contexts from their cache");
ok(exists $cache->{3} && exists $cache->{4}, 'and kept the others');
is_deeply($cache->{sessions_closed}, [ 1, 2 ], 'and closed their sessions');

# ------------------------------------------------ changeserver

$ox->clear_log;
$r = api(POST => "schemas/$s[1]/changeserver", json => { server_id => 8 });
is($r->{status}, 409, 'changeserver of an enabled schema: 409');
is($r->{json}{error}{code}, 'schema_not_disabled', 'schema_not_disabled');
is_deeply($r->{json}{enabled_contexts}, [ 3, 4 ],
          'the contexts OX named as still enabled');
like($r->{json}{error}{message}, qr/^The schema '\Q$s[1]\E' is not disabled/,
     "OX's words");

$ox->clear_log;
$r = api(POST => "schemas/$s[0]/changeserver",
         json => { server => 'oxserver-xyz' });
is($r->{status}, 200, 'changeserver: 200');
is($r->{json}{server_id}, 8, 'server id');
is($r->{json}{contexts}, 2, 'contexts');
is_deeply($ox->trace,
          [ "old:changeserver -A oxadminmaster -s 8 -m $s[0]" ],
          'changeserver -A -s ID -m SCHEMA on the old cluster');
is_deeply(ctx_state($s[0]), [ [ 0, 1431655765, 8 ] ], 'moved, still off');

# ------------------------------------------------ runupdate

$ox->clear_log;
$r = api(POST => "schemas/$s[0]/update");
is($r->{status}, 200, 'update: 200');
is_deeply($r->{json}{executed},
          [ 'com.openexchange.groupware.update.tasks.A', 't.Bad' ],
          'executed: the tasks OX recorded');
is_deeply($r->{json}{failed}, [], 'none failed');
is_deeply($ox->trace, [ "new:runupdate --adminpass=$P -A oxadminmaster -n $s[0]",
                        "new:checkdatabase -A oxadminmaster" ],
          'runupdate -A -P -n SCHEMA on the NEW cluster (7.10.1: the'
          . ' wrapper adds -P), then checkdatabase: nothing pending');
is_deeply(OxAdmin::task_rows($s[0]),
          { 'com.openexchange.groupware.update.tasks.A' => 1, 't.Bad' => 1 },
          "OX's rows in updateTask");
is(OxAdmin::schema_sql($s[0], "SELECT COUNT(*) FROM updateTask WHERE"
                       . " taskName = 'LOCKED'")->[0][0], 0,
   'no LOCKED row left (oxmigrate never took it)');

# a failing task: named from runupdate's output
OxAdmin::schema_sql($s[2], 'CREATE TABLE make_bad_fail (id INT)');
$r = api(POST => "schemas/$s[2]/update");
is($r->{status}, 200, 'update with a failing task: 200');
is_deeply($r->{json}{failed}, [ 't.Bad' ], 'failed: the row OX wrote'
          . ' (successful = 0)');
is_deeply($r->{json}{executed},
          [ 'com.openexchange.groupware.update.tasks.A' ], 'executed');

# a live OX lock: UPD-0003, runupdate not even started
my $now = int(time * 1000);
OxAdmin::schema_sql($s[1], "CREATE TABLE IF NOT EXISTS updateTask (cid INT"
    . " UNSIGNED NOT NULL, taskName VARCHAR(1024) NOT NULL, successful"
    . " BOOLEAN NOT NULL, lastModified BIGINT NOT NULL, uuid BINARY(16) NOT"
    . " NULL, PRIMARY KEY (cid, uuid)); INSERT INTO updateTask VALUES (0,"
    . " 'LOCKED', 1, $now, UNHEX('8d8b93e559794baca39daef8f87087a1'))");
$ox->clear_log;
$r = api(POST => "schemas/$s[1]/update");
is($r->{status}, 409, 'a live OX lock: 409');
is($r->{json}{error}{code}, 'UPD-0003', 'UPD-0003');
is_deeply($ox->trace, [], 'runupdate not started');
OxAdmin::schema_sql($s[1], "DELETE FROM updateTask");

# ------------------------------------------------ enableschema

$ox->set_cache('old', { 1 => { enabled => 0 }, 2 => { enabled => 0 },
                        3 => { enabled => 1 } });
$ox->clear_log;
$r = api(POST => "schemas/$s[0]/enable");
is($r->{status}, 200, 'enable: 200');
is($r->{json}{contexts}, 2, 'both enabled');
is_deeply($ox->trace, [ "old:enableschema -A oxadminmaster -m $s[0]" ],
          'enableschema -A -m SCHEMA on the old cluster');
is_deeply(ctx_state($s[0]), [ [ 1, undef, 8 ] ], 'enabled on the new server');
$cache = $ox->cache('old');
ok(!exists $cache->{1} && !exists $cache->{2} && exists $cache->{3},
   'the nodes that cached "disabled" dropped it');

# ------------------------------------------------ registerserver

$ox->clear_log;
$r = api(POST => 'servers', json => { name => 'oxserver-abc' });
is($r->{status}, 201, 'registerserver: 201');
is($r->{json}{id}, 101, 'the id the tool printed');
is_deeply($ox->trace,
          [ "old:registerserver -A oxadminmaster -n oxserver-abc" ],
          'registerserver -A -n NAME on the old cluster');
$r = api(POST => 'servers', json => { name => 'oxserver-abc' });
is($r->{status}, 409, 'a registered name: 409 (no tool run)');
$r = api(POST => 'servers', json => { name => '-n x' });
is($r->{status}, 400, 'a name that is no safe argument: 400');
is(scalar @{ $ox->calls }, 1, 'and no tool ran');

# ------------------------------------------------ failures

$ox->behave('old', 'disableschema', { exit => 106,
                                      stderr => "Storage error: boom\n" });
$r = api(POST => "schemas/$s[1]/disable");
is($r->{status}, 502, 'a failing tool: 502');
is($r->{json}{error}{code}, 'ox_tool_failed', 'ox_tool_failed');
is($r->{json}{error}{message},
   'disableschema (old cluster) exited with code 106: Storage error: boom',
   'the message names tool, exit code and stderr');
is($r->{json}{ox}{exit_code}, 106, 'ox.exit_code');
is($r->{json}{ox}{stderr}, "Storage error: boom\n", 'ox.stderr');
$ox->behave('old', 'disableschema', undef);

$ox->behave('old', 'enableschema', { hold => 30, pidfile => 1 });
my $t0 = time;
$r = api(POST => "schemas/$s[1]/enable");
my $took = time - $t0;
is($r->{status}, 504, 'a hanging tool: 504');
is($r->{json}{error}{code}, 'ox_tool_timeout', 'ox_tool_timeout');
like($r->{json}{error}{message},
     qr/^enableschema \(old cluster\) did not finish within 2000 ms and was killed/,
     'the message says so');
ok($took < 6, sprintf('answered after the 2 s timeout (%.1f s)', $took));
my $pid = OxTest::_slurp($ox->dir('old') . '/enableschema.pid');
chomp $pid if defined $pid;
ok($pid && !-e "/proc/$pid", "the tool ($pid) was killed and reaped"
   . " (no zombie)");
$ox->behave('old', 'enableschema', undef);

$ox->behave('old', 'registerserver', { stdout => "hello\n", exit => 0 });
$r = api(POST => 'servers', json => { name => 'oxserver-garbage' });
is($r->{status}, 502, 'garbage from registerserver: 502');
like($r->{json}{error}{message}, qr/not "server <id> registered"/,
     'the message says what was expected');
is($r->{json}{ox}{stdout}, "hello\n", 'and shows what it got');
$ox->behave('old', 'registerserver', undef);

rename $ox->dir('old') . '/enableschema', $ox->dir('old') . '/enableschema.x';
$r = api(POST => "schemas/$s[1]/enable");
is($r->{status}, 503, 'a missing tool: 503');
is($r->{json}{error}{code}, 'ox_tool_unavailable', 'ox_tool_unavailable');
like($r->{json}{error}{message},
     qr/^enableschema \(old cluster\) could not be started: .*No such file/,
     'the message says why');
rename $ox->dir('old') . '/enableschema.x', $ox->dir('old') . '/enableschema';

# ------------------------------------------------ the password

my $audit = $db->sql("SELECT arguments, result FROM oxmigrate_audit");
ok(@$audit >= 10, scalar(@$audit) . ' audit rows');
is(scalar(grep { "@$_" =~ /\Q$P\E/ } @$audit), 0,
   'the password is in no audit row');
unlike($ng->error_log, qr/\Q$P\E/, 'nor in the error log');

done_testing();
