#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# What the other admin tests leave out: directives inherited from the http
# and server level, a task named by its file name, GET /schemas "blocked"
# and "stale", changeserver on a schema without contexts, checkdatabase with
# nothing to report, runallupdate stopping at the first failure by default,
# update tasks connecting with the db_pool row's credentials, a client that
# goes away while its call runs on a thread (or while its body is read),
# the event loop answering while a configdb statement hangs, and tasks that
# leave an open transaction, autocommit off, table locks or another
# database behind;
# $remote_user evaluated before auth_basic.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;
use MIME::Base64 ();

my $site = OxAdmin::site('adm_edges', schemas => 2, contexts => 2,
                         prefix => 'adm_ed');
my ($s1, $s2) = @{ $site->{schemas} };
my $db = $site->{db};
my $suite = OxAdmin::suite();
my $LOCKED = '8d8b93e559794baca39daef8f87087a1';
my $USER = 'oxm_edges';

END {
    eval { $suite->do("DROP USER IF EXISTS '$USER'\@'%', '$USER'\@'localhost',"
                      . " '$USER'\@'127.0.0.1'") }
        if $ENV{OXM_MYSQL_PORT};
}

sub flag {
    my ($t) = @_;
    return "(SELECT COUNT(*) FROM information_schema.tables"
         . " WHERE table_schema = DATABASE() AND table_name = '$t') > 0";
}

my $tasks = OxAdmin::tasks(
    '010_first.sql' => "CREATE TABLE who (u VARCHAR(200));\n"
                     . "INSERT INTO who VALUES (CURRENT_USER());\n",
    '020_ns.sql' => "-- task: t.Ns\n-- namespace: ns.x\nSELECT 1;\n",
    '030_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(IF(" . flag('slow_flag')
                    . ", 3, 0));\nCREATE TABLE IF NOT EXISTS slow_log"
                    . " (id INT);\nINSERT INTO slow_log VALUES (1);\n",
    '040_fail.sql' => "-- task: t.Fail\nBEGIN NOT ATOMIC\n  IF "
                    . flag('fail_flag') . " THEN\n"
                    . "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no';\n"
                    . "  END IF;\nEND;\n",
);
my $htpasswd = OxAdmin::htpasswd();

# every admin directive but "oxmigrate_admin on" above the location
my $ng = OxTest::nginx(<<"EOF", db => $db, workers => 1,
    @{[ $db->directive ]}
    oxmigrate_update_tasks $tasks;
    oxmigrate_update_lock_refresh 1s;
    oxmigrate_update_lock_idle 3s;

    server {
        listen 127.0.0.1:%%PORT_A%%;
        oxmigrate_thread_pool oxmigrate;
        oxmigrate_excluded_namespaces ns.other ns.x;
        oxmigrate_admin_max_body 1k;

        location /oxmigrate/v1/ {
            auth_basic "oxmigrate";
            auth_basic_user_file $htpasswd;
            oxmigrate_admin on;
        }
    }
EOF
    main => 'thread_pool oxmigrate threads=4;');
sub api { OxAdmin::api($ng, @_) }
my $auth = 'Basic ' . MIME::Base64::encode_base64(
    "$OxAdmin::USER:$OxAdmin::PASS", '');

# ------------------------------------------------ inherited directives

my $r = api(GET => "schemas/$s1/updatetasks");
is($r->{status}, 200, 'directives from the http and server level work');
is_deeply([ map { [ $_->{name}, $_->{state} ] } @{ $r->{json}{tasks} } ],
          [ [ '010_first', 'pending' ], [ 't.Ns', 'excluded' ],
            [ 't.Slow', 'pending' ], [ 't.Fail', 'pending' ] ],
          'tasks from the http level; without "-- task:" the file name'
          . ' is the name; the namespace excluded on the server level'
          . ' (the second argument of oxmigrate_excluded_namespaces)');

$r = api(POST => 'servers', body => '{"name":"' . ('x' x 2000) . '"}');
is($r->{status}, 400, 'oxmigrate_admin_max_body from the server level');

my $now = int(time * 1000);
OxAdmin::schema_sql($s2, "CREATE TABLE updateTask (cid INT UNSIGNED NOT NULL,"
    . " taskName VARCHAR(1024) NOT NULL, successful BOOLEAN NOT NULL,"
    . " lastModified BIGINT NOT NULL, uuid BINARY(16) NOT NULL,"
    . " PRIMARY KEY (cid, uuid));"
    . " INSERT INTO updateTask VALUES (0, 'LOCKED', 1, $now,"
    . " UNHEX('$LOCKED'))");
my %st = map { $_->{name} => $_->{status} }
         @{ api(GET => 'schemas')->{json}{schemas} };
is($st{$s2}, 'blocked', 'GET /schemas: a live lock is "blocked"');
is($st{$s1}, 'needs update', 'the other one "needs update"');

OxAdmin::schema_sql($s2, "UPDATE updateTask SET lastModified = "
                    . ($now - 4000));
%st = map { $_->{name} => $_->{status} }
      @{ api(GET => 'schemas')->{json}{schemas} };
is($st{$s2}, 'stale', 'idle 4 s: "stale" (lock idle 3 s from the http'
   . ' level)');
OxAdmin::schema_sql($s2, 'DROP TABLE updateTask');

# ------------------------------------------------ a schema without contexts

$db->do("INSERT INTO contexts_per_dbschema VALUES (3, 'adm_ed_empty', 0, 0)");
$r = api(POST => 'schemas/adm_ed_empty/changeserver',
         json => { server_id => 8 });
is($r->{status}, 409, 'changeserver on an empty schema: 409');
is($r->{json}{error}{code}, 'schema_empty', 'schema_empty');
$r = api(POST => 'schemas/adm_ed_empty/disable');
is_deeply([ $r->{status}, $r->{json}{contexts} ], [ 200, 0 ],
          'disable of an empty schema: 0 contexts');
$db->do("DELETE FROM contexts_per_dbschema WHERE schemaname = 'adm_ed_empty'");

# ------------------------------------------------ runallupdate stops

OxAdmin::schema_sql($s1, 'CREATE TABLE fail_flag (id INT)');
$r = api(POST => 'updates');
is($r->{status}, 202, 'runallupdate without a body');
is($db->value("SELECT options FROM oxmigrate_job WHERE id = "
              . ($r->{json}{job} // 0)), '{}', 'its options: the defaults');
my $job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{state}, 'failed', 'the job failed');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'failed', 'pending' ],
          'stop_on_error is the default: the next schema never ran');
is_deeply($job->{schemas}[0]{failed_tasks}, ['t.Fail'], 't.Fail named');
is_deeply(OxAdmin::task_rows($s2), {}, "no task ran on $s2");
OxAdmin::schema_sql($s1, 'DROP TABLE fail_flag');

# ------------------------------------------------ db_pool credentials

my $url = $db->value('SELECT url FROM db_pool WHERE db_pool_id = 3');
$db->do("UPDATE db_pool SET login = '$USER', password = 'wrong'"
        . " WHERE db_pool_id = 3");
$r = api(POST => "schemas/$s2/update");
is($r->{status}, 500, 'a wrong db_pool password: the update fails');
like($r->{json}{error}{message}, qr/Access denied for user '\Q$USER\E'/,
     "it connected as the db_pool row's login");

$suite->do(join '', map {
    "CREATE USER IF NOT EXISTS '$USER'\@'$_' IDENTIFIED BY 'pw$USER';"
    . "GRANT ALL ON `adm\\_ed\\_%`.* TO '$USER'\@'$_';"
} '%', 'localhost', '127.0.0.1');
$db->do("UPDATE db_pool SET password = 'pw$USER' WHERE db_pool_id = 3");
$r = api(POST => "schemas/$s2/update");
is($r->{status}, 200, 'with its password it works');
like(OxAdmin::schema_sql($s2, 'SELECT u FROM who')->[0][0], qr/^\Q$USER\E@/,
     'the tasks ran as that user');
$db->do("UPDATE db_pool SET login = 'root', password = '' WHERE"
        . " db_pool_id = 3");
ok($url =~ m{^jdbc:mysql://127\.0\.0\.1:\d+/$}, "the JDBC URL: $url");

# ------------------------------------------------ clients that go away

OxAdmin::schema_sql($s1, 'CREATE TABLE slow_flag (id INT)');
my $before = OxAdmin::schema_sql($s1, "SELECT lastModified FROM updateTask"
                                 . " WHERE taskName = 't.Slow'")->[0][0];
my $gone = OxTest::http_start(POST => "/oxmigrate/v1/schemas/$s1/"
                              . 'updatetasks/t.Slow/force',
                              port => $ng->port('A'),
                              headers => { Authorization => $auth });
sleep 0.5;
$gone->close;
ok(OxTest::wait_for(sub {
    !@{ OxAdmin::schema_sql($s1, "SELECT 1 FROM updateTask"
                            . " WHERE taskName = 'LOCKED'") }
}, 10, 0.2), 'the call whose client went away still ran to its end');
is(OxAdmin::schema_sql($s1, 'SELECT COUNT(*) FROM slow_log')->[0][0], 2,
   'the forced task ran (once more)');
ok(OxAdmin::schema_sql($s1, "SELECT lastModified FROM updateTask"
   . " WHERE taskName = 't.Slow'")->[0][0] > $before, 'and was recorded');
my ($audit) = grep { $_->{action} eq 'forceupdatetask' }
              @{ api(GET => 'audit?limit=5')->{json}{audit} };
is($audit && $audit->{status}, 200, 'and audited');
like($audit && $audit->{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
     'audit time in ISO 8601');
OxAdmin::schema_sql($s1, 'DROP TABLE slow_flag');

# half a body, then gone
$gone = OxTest::http_raw_start($ng->port('A'),
    "POST /oxmigrate/v1/servers HTTP/1.1\r\nHost: localhost\r\n"
    . "Authorization: $auth\r\nContent-Length: 100\r\n\r\n{\"name\":");
sleep 0.3;
$gone->close;
$r = api(GET => 'servers');
is($r->{status}, 200, 'nginx answers after a half-sent body');
is(scalar @{ $r->{json}{servers} }, 2, 'nothing registered');

# ------------------------------------------------ the event loop stays free

my $bg = $db->sql_bg("LOCK TABLES context WRITE; SELECT SLEEP(3);"
                     . " UNLOCK TABLES;");
sleep 0.5;
my $t0 = time;
my $hung = OxTest::http_start(POST => "/oxmigrate/v1/schemas/$s2/disable",
                              port => $ng->port('A'), timeout => 20,
                              headers => { Authorization => $auth });
sleep 0.3;
my @fast;
for my $path ('updatetasks/namespaces', 'servers', 'jobs') {
    my $t = time;
    $r = api(GET => $path);
    push @fast, [ $path, $r->{status}, (time - $t) < 0.5 ? 'fast' : 'slow' ];
}
is_deeply(\@fast, [ map { [ $_, 200, 'fast' ] }
                    'updatetasks/namespaces', 'servers', 'jobs' ],
          'one worker answers other calls while a configdb statement hangs');
$r = $hung->wait;
is($r->{status}, 200, 'the hung disable finishes after the lock');
ok(time - $t0 >= 2, sprintf('after the lock was released (%.1f s)',
                            time - $t0));
$bg->wait;

$ng->stop;

# ------------------------------------------------ what a task leaves behind

my $tx = OxAdmin::tasks(
    '010_open.sql' => "-- task: t.Open\nSTART TRANSACTION;\n"
                    . "INSERT INTO tx_a VALUES (1);\n",
    '020_fail.sql' => "-- task: t.FailTx\nSTART TRANSACTION;\n"
                    . "INSERT INTO tx_a VALUES (2);\n"
                    . "INSERT INTO no_such_table VALUES (1);\n",
    '030_use.sql' => "-- task: t.Use\nSET autocommit = 0;\nUSE mysql;\n",
    '035_lock.sql' => "-- task: t.Lock\nLOCK TABLES tx_a WRITE;\n"
                    . "INSERT INTO tx_a VALUES (3);\n",
    '040_where.sql' => "-- task: t.Where\nCREATE TABLE tx_where AS"
                     . " SELECT DATABASE() AS db;\n");
$ng = OxAdmin::nginx($site, tasks => $tx);
OxAdmin::schema_sql($s2, 'CREATE TABLE tx_a (id INT)');
$r = api(POST => "schemas/$s2/update");
is_deeply([ $r->{status}, $r->{json}{executed}, $r->{json}{failed} ],
          [ 200, [ 't.Open', 't.Use', 't.Lock', 't.Where' ],
            [ 't.FailTx' ] ],
          'tasks that leave transactions and session state behind');
is_deeply(OxAdmin::schema_sql($s2, 'SELECT id FROM tx_a ORDER BY id'),
          [ [1], [3] ], 'the open transaction of a good task is committed,'
          . ' the one of a failed task rolled back');
is_deeply(OxAdmin::schema_sql($s2, 'SELECT db FROM tx_where'), [ [$s2] ],
          'a USE does not carry over to the next task');
is_deeply({ map { $_ => OxAdmin::task_rows($s2)->{$_} }
            qw(t.Open t.FailTx t.Use t.Lock t.Where) },
          { 't.Open' => 1, 't.FailTx' => 0, 't.Use' => 1, 't.Lock' => 1,
            't.Where' => 1 },
          'every task is recorded (also after a LOCK TABLES)');
is(OxAdmin::schema_sql($s2, "SELECT COUNT(*) FROM updateTask"
   . " WHERE taskName = 'LOCKED'")->[0][0], 0, 'and the lock is gone');

$ng->stop;

# ------------------------------------------------ checkdatabase, nothing found

$ng = OxAdmin::nginx($site, tasks => OxAdmin::tasks(
    '010_noop.sql' => "-- task: t.Noop\n-- nothing to do\n"));
sub check_rows {
    return [ sort map { "$_->{scheme}: $_->{status}" }
                  @{ $_[0]{json}{schemas} // [] } ];
}
$r = api(GET => 'databases/check');
is_deeply(check_rows($r), [ "$s1: Needs update", "$s2: Needs update" ],
          'checkdatabase: t.Noop is pending in both schemas');
ok(!exists $r->{json}{message}, 'no message while something is found');
is_deeply([ map { api(POST => "schemas/$_/update")->{status} } $s1, $s2 ],
          [ 200, 200 ], 'runupdate on both');
$r = api(GET => 'databases/check');
is_deeply($r->{json}, { schemas => [], message => 'Neither pending, blocking'
                        . ' nor stale schemas found' },
          "checkdatabase with nothing to report: OX's message");
OxAdmin::schema_sql($s1, "INSERT INTO updateTask VALUES (0, 'LOCKED', 1, "
                    . (int(time * 1000) - 10000) . ", UNHEX('$LOCKED'))");
$r = api(GET => 'databases/check');
is_deeply([ check_rows($r), exists $r->{json}{message} ? 1 : 0 ],
          [ [ "$s1: Blocking updates running for too long" ], 0 ],
          'a dead lock is found again, without the message');
OxAdmin::schema_sql($s1, "DELETE FROM updateTask WHERE taskName = 'LOCKED'");

$ng->stop;

# ------------------------------------------------ $remote_user looked at early

# nginx parses the Authorization header, unchecked, whenever $remote_user
# is evaluated; such a user must not open the API
my $pool = 'thread_pool oxmigrate threads=2;';
$ng = OxTest::nginx(<<"EOF", db => $db, main => $pool);
    @{[ $db->directive ]}
    server {
        listen 127.0.0.1:%%PORT_A%%;
        location /oxmigrate/v1/ {
            set \$who \$remote_user;
            oxmigrate_admin on;
            oxmigrate_thread_pool oxmigrate;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_B%%;
        location /oxmigrate/v1/ {
            set \$who \$remote_user;
            auth_basic "oxmigrate";
            auth_basic_user_file $htpasswd;
            oxmigrate_admin on;
            oxmigrate_thread_pool oxmigrate;
        }
    }
EOF
$r = api(GET => 'servers', user => 'anyone', pass => 'anything');
is($r->{status}, 401, 'no auth_basic, $remote_user evaluated in a rewrite'
   . ' phase: still 401');
$r = api(GET => 'servers', port => $ng->port('B'), pass => 'wrong');
is($r->{status}, 401, 'with auth_basic: a wrong password 401');
$r = api(GET => 'servers', port => $ng->port('B'));
is($r->{status}, 200, 'the right one 200');

$ng->stop;
done_testing();
