#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# POST /schemas/{s}/revert (refused while update tasks of the new version
# ran on it, listing them; forced; allowed when none ran) and GET
# /schemas/{s}, the diagnosis, of states made on purpose: half-enabled, a
# server id mix, a dead OX lock row, a schema its job failed on; each
# inconsistency names the call that fixes it, and that call does.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_revert', schemas => 3, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

my $ox = OxAdmin::oxtools($site, tasks => [ { name => 't.A' },
                                            { name => 't.B' } ]);
my $ng = OxAdmin::nginx($site, ox => $ox, refresh => '1s', idle => '3s');
sub api { OxAdmin::api($ng, @_) }

sub ctx_state { OxAdmin::ctx_state($site, $_[0]) }

sub problems {
    my ($schema) = @_;
    my $r = api(GET => "schemas/$schema");
    is($r->{status}, 200, "GET schemas/$schema");
    return $r->{json}{inconsistencies} // [];
}

# ------------------------------------------------ revert refused, forced

my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                         only => [ $s[0] ] });
my $job = OxAdmin::wait_job($ng, $r->{json}{job}, 30);
is($job->{state}, 'done', "$s[0] upgraded");
is_deeply(ctx_state($s[0]), [ [ 1, undef, 101 ] ], 'on the new server');

my $d = api(GET => "schemas/$s[0]")->{json};
is($d->{last_job}{id}, $job->{id}, 'diagnosis: the last job');
is($d->{last_job}{from_server_id}, 2, 'the server it had before');
is_deeply($d->{servers}, [ { server_id => 101, name => 'oxserver-new',
                             contexts => 2 } ], 'servers');
is_deeply($d->{inconsistencies}, [], 'nothing inconsistent');

$r = api(POST => "schemas/$s[0]/revert");
is($r->{status}, 409, 'revert after its tasks ran: 409');
is($r->{json}{error}{code}, 'tasks_ran', 'tasks_ran');
is_deeply($r->{json}{tasks}, [ 't.A', 't.B' ], 'the answer lists them');
is_deeply(ctx_state($s[0]), [ [ 1, undef, 101 ] ], 'nothing changed');

$r = api(POST => "schemas/$s[0]/revert", json => { force => JSON::PP::true });
is($r->{status}, 200, 'forced: 200');
is($r->{json}{server_id}, 2, 'back to server 2');
ok($r->{json}{forced}, 'forced');
is_deeply($r->{json}{tasks}, [ 't.A', 't.B' ], 'the tasks that ran');
is_deeply(ctx_state($s[0]), [ [ 1, undef, 2 ] ],
          'on its old server, enabled');
$d = api(GET => "schemas/$s[0]")->{json};
like($d->{last_job}{message}, qr/reverted to server 2/, 'the job row says so');
is_deeply($d->{inconsistencies}, [], 'nothing inconsistent');

$r = api(POST => "schemas/nope/revert");
is($r->{status}, 404, 'unknown schema: 404');
$r = api(POST => "schemas/$s[2]/revert");
is($r->{status}, 409, 'a schema no job touched: 409');
is($r->{json}{error}{code}, 'no_job', 'no_job');

# ------------------------------------------------ a failed schema, no tasks

$ox->behave('new', 'runupdate', { exit => 0 });    # runs nothing
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      check_tasks => JSON::PP::true,
                                      only => [ $s[1] ] });
$job = OxAdmin::wait_job($ng, $r->{json}{job}, 30);
$ox->behave('new', 'runupdate', {});
is($job->{state}, 'failed', "$s[1]: a task still pending after runupdate");
is_deeply(ctx_state($s[1]), [ [ 0, 1431655765, 101 ] ],
          "disabled, on the new server (OX's order)");

my $p = problems($s[1]);
is(scalar @$p, 1, 'one inconsistency');
like($p->[0]{problem}, qr/^disabled: job \d+ failed on it \(runupdate ended but 1 task\(s\) .* still pending/,
     'disabled: its job failed');
like($p->[0]{fix}, qr{POST /schemas/$s[1]/revert}, 'fix: ... or revert');

$r = api(POST => "schemas/$s[1]/revert");
is($r->{status}, 200, 'no task ran: revert without force');
is_deeply($r->{json}{tasks}, [], 'no tasks');
is_deeply(ctx_state($s[1]), [ [ 1, undef, 2 ] ], 'enabled on server 2');
is_deeply(problems($s[1]), [], 'consistent');

# ------------------------------------------------ made-up states

my ($c1, $c2) = map { $_->[0] } @{ $db->sql(
    "SELECT cid FROM context_server2db_pool WHERE db_schema = '$s[2]'"
    . " ORDER BY cid") };

sub fix_ok {
    my ($schema, $what) = @_;
    my $p = problems($schema);
    is(scalar @$p, 1, "$what: one inconsistency") or diag explain $p;
    ok($p->[0]{fix}, "$what: fix '$p->[0]{fix}'");
    for my $call (split /, (?=POST )/, $p->[0]{fix} // '') {
        my ($method, $path, $body) = $call =~ m{^(POST) /(\S+)(?: (\{.*\}))?$};
        my $r = api($method => $path,
                    $body ? (json => JSON::PP::decode_json($body)) : ());
        is($r->{status}, 200, "$what: $call answers 200")
            or diag explain $r->{json};
    }
    is_deeply(problems($schema), [], "$what: consistent after the fix");
    return $p->[0];
}

# half-enabled
$db->do("UPDATE context SET enabled = 0, reason_id = 1431655765"
        . " WHERE cid = $c1");
my $x = fix_ok($s[2], 'half-enabled');
like($x->{problem}, qr/half-enabled/, 'named half-enabled');
like($x->{fix}, qr{^POST /schemas/$s[2]/enable}, 'fix: enable');
is_deeply(ctx_state($s[2]), [ [ 1, undef, 2 ] ], 'enabled');

# server id mix
$db->do("UPDATE context_server2db_pool SET server_id = 8 WHERE cid = $c2");
$d = api(GET => "schemas/$s[2]")->{json};
is(scalar @{ $d->{servers} }, 2, 'two servers listed');
$x = fix_ok($s[2], 'server id mix');
like($x->{problem}, qr/server id mix/, 'named server id mix');
is_deeply(ctx_state($s[2]), [ [ 1, undef, 2 ] ], 'one server again');

# a dead OX lock row
OxAdmin::schema_sql($s[2], "CREATE TABLE IF NOT EXISTS updateTask (cid INT"
    . " UNSIGNED NOT NULL, taskName VARCHAR(1024) NOT NULL, successful"
    . " BOOLEAN NOT NULL, lastModified BIGINT NOT NULL, uuid BINARY(16) NOT"
    . " NULL, PRIMARY KEY (cid, uuid)); INSERT INTO updateTask VALUES (0,"
    . " 'LOCKED', 1, 1000, UNHEX('8d8b93e559794baca39daef8f87087a1'))");
$d = api(GET => "schemas/$s[2]")->{json};
is($d->{ox_lock}{live}, JSON::PP::false, 'the lock row is shown dead');
$x = fix_ok($s[2], 'dead lock');
like($x->{problem}, qr/dead OX lock/, 'named dead OX lock');
like($x->{fix}, qr{^POST /databases/3/unblock}, 'fix: unblock');
is(api(GET => "schemas/$s[2]")->{json}{ox_lock}, 'none', 'no lock row');

done_testing();
