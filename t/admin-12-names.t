#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Names are data: schema names with backticks, quotes, "%" and "_" (no
# LIKE anywhere), UTF-8, a case or trailing-space variant of a real name,
# SQL in every place a name can go (URL and body), a NUL byte hidden in a
# JSON string; and concurrent calls: two registrations of one name, several
# updates of one schema, two upgrades at once.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;
use MIME::Base64 ();

my $site = OxAdmin::site('adm_names', schemas => 2, contexts => 2,
                         prefix => 'adm_nm');
my ($s1, $s2) = @{ $site->{schemas} };        # adm_nm_1, adm_nm_2
my $db = $site->{db};
my $suite = OxAdmin::suite();

# schemas whose names need quoting, each with real database and contexts
my $tick = 'adm_nm_b`q';
my $pct = 'adm_nm_p%c';
my $utf = "adm_nm_\xc3\xbc\xe2\x82\xac";        # adm_nm_ü€ (UTF-8 bytes)
my @odd = ($tick, $pct, $utf);
my $cid = 100;
for my $s (@odd) {
    my $q = $db->quote($s);
    $db->do("INSERT INTO context (cid, name, enabled) VALUES"
            . " ($cid, 'ctx$cid', 1), (" . ($cid + 1) . ", 'ctx"
            . ($cid + 1) . "', 1);"
            . "INSERT INTO context_server2db_pool VALUES"
            . " (2, $cid, 3, 3, $q), (2, " . ($cid + 1) . ", 3, 3, $q);"
            . "INSERT INTO contexts_per_dbschema VALUES (3, $q, 2, 0);");
    (my $id = $s) =~ s/`/``/g;
    $suite->do("DROP DATABASE IF EXISTS `$id`; CREATE DATABASE `$id`");
    $cid += 10;
}

# an unrelated database whose name differs from adm_nm_1 only in case
$suite->do('DROP DATABASE IF EXISTS `ADM_NM_1`; CREATE DATABASE `ADM_NM_1`');

END {
    eval {
        $suite->do(join '', map { (my $i = $_) =~ s/`/``/g;
                                  "DROP DATABASE IF EXISTS `$i`;" }
                            @odd, 'ADM_NM_1')
    } if $ENV{OXM_MYSQL_PORT} && !$ENV{OXM_KEEP};
}

# every task records the database it ran in
my $tasks = OxAdmin::tasks(
    '010_mark.sql' => "-- task: t.Mark\nCREATE TABLE mark (db VARCHAR(64))"
                    . " CHARACTER SET utf8mb4;\n"
                    . "INSERT INTO mark VALUES (DATABASE());\n");
my $ng = OxAdmin::nginx($site, tasks => $tasks);
sub api { OxAdmin::api($ng, @_) }
sub esc { OxTest::uri_escape($_[0]) }
sub chars { my $s = shift; utf8::decode($s); return $s }
sub enabled_of {
    return $db->value("SELECT COALESCE(SUM(c.enabled), 0) FROM context c"
                      . " JOIN context_server2db_pool p USING (cid)"
                      . " WHERE BINARY p.db_schema = " . $db->quote($_[0]));
}

# ------------------------------------------------ names that need quoting

for my $s (@odd) {
    my $r = api(POST => 'schemas/' . esc($s) . '/disable');
    is($r->{status}, 200, "disable '$s'");
    is($r->{json}{contexts}, 2, 'its two contexts');
    is($r->{json}{schema}, chars($s), 'the name echoed as it is');

    $r = api(POST => 'schemas/' . esc($s) . '/update');
    is($r->{status}, 200, "update '$s'");
    is_deeply($r->{json}{executed}, ['t.Mark'], 'the task ran');
    is_deeply($suite->sql_in($s, 'SELECT db FROM mark'), [ [$s] ],
              'in the database of that name');

    $r = api(GET => 'schemas/' . esc($s) . '/updatetasks?state=executed');
    is($r->{json}{tasks}[0]{name}, 't.Mark', 'listUpdateTasks');

    $r = api(POST => 'schemas/' . esc($s) . '/changeserver',
             json => { server_id => 8 });
    is($r->{status}, 200, 'changeserver');
    $r = api(POST => 'schemas/' . esc($s) . '/enable');
    is($r->{json}{contexts}, 2, 'enable');
}

is(enabled_of($s1) + enabled_of($s2), 4, 'the other schemas untouched');

my $r = api(GET => 'schemas');
is_deeply([ map { $_->{name} } @{ $r->{json}{schemas} } ],
          [ map { chars($_) } ($s1, $s2, $tick, $pct, $utf) ],
          'GET /schemas lists them (natural order)');
is_deeply([ map { $_->{status} } @{ $r->{json}{schemas} } ],
          [ 'needs update', 'needs update', 'ok', 'ok', 'ok' ],
          'with their update state');

# ------------------------------------------------ near misses are unknown

for my $miss ('adm_nm__', 'adm_nm_%', 'adm_nm_', 'ADM_NM_1', 'adm_nm_1 ',
              "adm_nm_1\t", 'adm_nm_B`Q', "adm_nm_\xc3\xbc") {
    my $label = $miss =~ s/([^ -~])/sprintf('\\x%02x', ord $1)/ger;
    for my $call ([ POST => 'disable' ], [ POST => 'update' ],
                  [ GET => 'updatetasks' ])
    {
        $r = api($call->[0], 'schemas/' . esc($miss) . "/$call->[1]");
        is($r->{status}, 404, "$call->[1] '$label': 404");
    }
}
is(enabled_of($s1), 2, 'no near miss disabled adm_nm_1');
is_deeply($suite->sql_in('ADM_NM_1', 'SHOW TABLES'), [],
          'no update ran in the database ADM_NM_1');

$r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                      continue => JSON::PP::true,
                                      dry_run => JSON::PP::true,
                                      skip => ['ADM_NM_1'] });
is($r->{status}, 404, 'skip names a schema exactly');

# ------------------------------------------------ SQL wherever a name goes

my @evil = ("x'; DROP TABLE context; --", 'x`; DROP DATABASE adm_nm_1; --',
            "x\\'; DROP TABLE server; --", "x\"; DROP TABLE server; --",
            "adm_nm_1' OR '1'='1", "' UNION SELECT 1 --");
for my $e (@evil) {
    my $u = esc($e);
    my @calls = (
        [ POST => "schemas/$u/disable" ],
        [ POST => "schemas/$u/enable" ],
        [ POST => "schemas/$u/update" ],
        [ GET => "schemas/$u/updatetasks" ],
        [ POST => "schemas/$u/updatetasks/t.Mark/force" ],
        [ POST => "schemas/$u/changeserver", json => { server_id => 8 } ],
        [ POST => "schemas/$s1/changeserver", json => { server => $e } ],
        [ POST => "updatetasks/$u/force" ],
        [ POST => 'databases/3/unblock', json => { schema => $e } ],
        [ POST => 'upgrade', json => { server => 'oxserver-xyz',
                                       continue => JSON::PP::true,
                                       dry_run => JSON::PP::true,
                                       skip => [$e] } ],
        [ POST => 'upgrade', json => { server => 'oxserver-xyz',
                                       continue => JSON::PP::true,
                                       dry_run => JSON::PP::true,
                                       resume_after => $e } ],
    );
    my @bad = grep { $_->[0] != 404 } map {
        my ($m, $p, @o) = @$_;
        my $x = api($m, $p, @o);
        [ $x->{status}, "$m $p" ]
    } @calls;
    is_deeply(\@bad, [], "'$e' is an unknown name everywhere (404)");
}
is($db->value('SELECT COUNT(*) FROM context'), 10, 'context intact');
is($db->value('SELECT COUNT(*) FROM server'), 2, 'server intact');
ok($suite->sql_in($s1, 'SELECT 1'), 'adm_nm_1 still exists');

# as a server name it is just a name
$r = api(POST => 'servers', json => { name => $evil[1] });
is($r->{status}, 201, 'a server called like SQL: 201');
is($db->value('SELECT name FROM server WHERE server_id = '
              . $r->{json}{id}), $evil[1], 'stored as it is');

# a NUL byte inside a JSON string must not cut the name short
$r = api(POST => 'servers', body => '{"name":"nul\u0000cut"}');
is($r->{status}, 400, 'a \u0000 in a string: 400');
is($r->{json}{error}{code}, 'invalid_argument', 'invalid_argument');
$r = api(POST => 'servers', body => '{"name":"back\\\\u0000slash"}');
is($r->{status}, 201, 'an escaped backslash before "u0000" is fine');
is($r->{json}{name}, 'back\\u0000slash', 'and kept');
is($db->value("SELECT COUNT(*) FROM server WHERE name LIKE 'nul%'"), 0,
   'no truncated server registered');

# ------------------------------------------------ concurrent calls

my $auth = { Authorization => 'Basic ' . MIME::Base64::encode_base64(
                 "$OxAdmin::USER:$OxAdmin::PASS", ''),
             'Content-Type' => 'application/json' };
my @res = OxTest::http_many([ map { [ POST => '/oxmigrate/v1/servers',
                                      body => '{"name":"oxserver-race"}' ] }
                              1 .. 10 ],
                            port => $ng->port('A'), headers => $auth,
                            timeout => 30);
my @st = sort map { $_->{status} } @res;
is_deeply(\@st, [ 201, (409) x 9 ],
          'ten registrations of one name at once: one 201, nine 409');
my ($won) = map { OxTest::json($_->{body})->{id} }
            grep { $_->{status} == 201 } @res;
is_deeply([ map { OxTest::json($_->{body})->{id} }
            grep { $_->{status} == 409 } @res ], [ ($won) x 9 ],
          'every 409 carries the winner\'s id');
is($db->value("SELECT COUNT(*) FROM server WHERE name = 'oxserver-race'"),
   1, 'one row');

$ng->stop;

# several updates of one schema at once: exactly one runs the tasks
my $slow = OxAdmin::tasks(
    '010_slow.sql' => "-- task: t.Slow\nCREATE TABLE IF NOT EXISTS run_log"
                    . " (id INT);\nSELECT SLEEP(1);\n"
                    . "INSERT INTO run_log VALUES (1);\n");
$ng = OxAdmin::nginx($site, tasks => $slow);

@res = OxTest::http_many([ map { [ POST =>
                                   "/oxmigrate/v1/schemas/$s2/update" ] }
                           1 .. 6 ],
                         port => $ng->port('A'), headers => $auth,
                         timeout => 30);
@st = sort map { $_->{status} } @res;
is_deeply(\@st, [ 200, (409) x 5 ],
          'six updates of one schema at once: one 200, five 409');
is_deeply([ map { OxTest::json($_->{body})->{error}{code} }
            grep { $_->{status} == 409 } @res ], [ ('UPD-0003') x 5 ],
          'the others get UPD-0003');
is($suite->sql_in($s2, 'SELECT COUNT(*) FROM run_log')->[0][0], 1,
   'the task ran once');
is($suite->sql_in($s2, "SELECT COUNT(*) FROM updateTask"
                  . " WHERE taskName = 't.Slow'")->[0][0], 1,
   'one updateTask row');

# two upgrades at once: one job
@res = OxTest::http_many([ map { [ POST => '/oxmigrate/v1/upgrade',
                                   body => '{"server":"oxserver-xyz",'
                                         . '"continue":true}' ] } 1 .. 2 ],
                         port => $ng->port('A'), headers => $auth,
                         timeout => 30);
@st = sort map { $_->{status} } @res;
is_deeply(\@st, [ 202, 409 ], 'two upgrades at once: one 202, one 409');
my ($refused) = grep { $_->{status} == 409 } @res;
is(OxTest::json($refused->{body})->{error}{code}, 'job_running',
   'job_running');
is($db->value("SELECT COUNT(*) FROM oxmigrate_job"), 1, 'one job row');
my ($started) = grep { $_->{status} == 202 } @res;
my $job = OxAdmin::wait_job($ng, OxTest::json($started->{body})->{job}, 60);
is($job->{state}, 'done', 'the one job is done');

$ng->stop;

# two runallupdates at once: one job, and no job of either kind next to it
# (their updates of one schema would collide: UPD-0003)
$ng = OxAdmin::nginx($site, tasks => OxAdmin::tasks(
    '010_wait.sql' => "-- task: t.Wait\nSELECT SLEEP(1);\n"));
@res = OxTest::http_many([ map { [ POST => '/oxmigrate/v1/updates',
                                   body => '{}' ] } 1 .. 2 ],
                         port => $ng->port('A'), headers => $auth,
                         timeout => 30);
@st = sort map { $_->{status} } @res;
is_deeply(\@st, [ 202, 409 ], 'two runallupdates at once: one 202, one 409');
($started) = grep { $_->{status} == 202 } @res;
my $id = OxTest::json($started->{body})->{job};
($refused) = grep { $_->{status} == 409 } @res;
my $no = OxTest::json($refused ? $refused->{body} : '') // {};
is_deeply([ $no->{error}{code}, $no->{job} ], [ 'job_running', $id ],
          'job_running, naming the running job');
is($db->value("SELECT COUNT(*) FROM oxmigrate_job WHERE kind = 'updates'"),
   1, 'one runallupdate job row');
$r = OxAdmin::api($ng, POST => 'upgrade',
                     body => '{"server":"oxserver-xyz","continue":true}');
is_deeply([ $r->{status}, $r->{json}{error}{code}, $r->{json}{job} ],
          [ 409, 'job_running', $id ],
          'no upgrade while a runallupdate runs');
$r = OxAdmin::api($ng, POST => 'updates');
is($r->{status}, 409, 'nor a second runallupdate');
$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'the one runallupdate is done');
is_deeply([ grep { $_->{state} ne 'done' } @{ $job->{schemas} } ], [],
          'every schema updated, none lost to UPD-0003');
$r = OxAdmin::api($ng, POST => 'updates');
is($r->{status}, 202, 'once it is over, the next one starts');
is(OxAdmin::wait_job($ng, $r->{json}{job}, 60)->{state}, 'done',
   'and is done');

$ng->stop;
done_testing();
