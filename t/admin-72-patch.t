#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# PATCH /jobs/{id} {"parallel": N} while an upgrade runs: schemas on two
# database hosts run one at a time until the PATCH, then two at once (never
# two on one host); the new parallel outlives a pause and continue.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_patch', schemas => 4, contexts => 1);
my @a = @{ $site->{schemas} };
my $db = $site->{db};

# a second database host with four more schemas (db_pool 4)
my $host2 = OxTest::mariadb_private();
my @b = map { "adm_patch_b$_" } 1 .. 4;
my $port2 = $host2->port;
$db->do("INSERT INTO db_pool VALUES (4, 'jdbc:mysql://127.0.0.1:$port2/',"
        . " 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'oxdb2');"
        . "INSERT INTO context (cid, name, enabled) VALUES "
        . join(', ', map { "(1$_, 'ctx1$_', 1)" } 1 .. 4) . ";"
        . "INSERT INTO context_server2db_pool VALUES "
        . join(', ', map { "(2, 1$_, 4, 4, '$b[$_ - 1]')" } 1 .. 4) . ";");
for my $s (@b) {
    $host2->do("CREATE DATABASE `$s`");
    $host2->sql_in($s, $OxAdmin::SCHEMA_SQL);
}

my $tasks = OxAdmin::tasks(
    '010_sleep.sql' => "-- task: t.Sleep\nSELECT SLEEP(1);\n");
my $ng = OxAdmin::nginx($site, tasks => $tasks);
sub api { OxAdmin::api($ng, @_) }

my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                         continue => JSON::PP::true });
is($r->{status}, 202, 'upgrade, parallel 1');
my $id = $r->{json}{job};

# the first schema ran alone
ok(OxTest::wait_for(sub {
    (api(GET => "jobs/$id")->{json}{processed} // 0) >= 1 }, 20, 0.05),
   'one schema done');
my $t_patch = time * 1000;
$r = api(PATCH => "jobs/$id", json => { parallel => 2 });
is($r->{status}, 200, 'PATCH parallel 2: 200');
is($r->{json}{parallel}, 2, 'parallel 2');
is(api(GET => "jobs/$id")->{json}{parallel}, 2, 'GET /jobs/{id} shows it');

my $job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'done');

my %w = map { $_->[0] => [ $_->[1], $_->[2] ] } @{ $db->sql(
    "SELECT name, disabled_at, enabled_at FROM oxmigrate_job_schema"
    . " WHERE job_id = $id") };
sub overlap {
    my ($x, $y) = @_;
    return $w{$x}[0] < $w{$y}[1] && $w{$y}[0] < $w{$x}[1];
}
my (@before, @after);
for my $x (@a, @b) {
    for my $y (@a, @b) {
        next unless $x lt $y && overlap($x, $y);
        my $start = $w{$x}[0] > $w{$y}[0] ? $w{$x}[0] : $w{$y}[0];
        if ($start < $t_patch - 500) { push @before, "$x/$y" }
        else { push @after, "$x/$y" }
    }
}
is_deeply(\@before, [], 'nothing ran at once before the PATCH');
ok(@after >= 1, 'two schemas at once after it: ' . join(' ', @after));
ok(!grep({ my ($x, $y) = split m{/}; ($x =~ /_b/) == ($y =~ /_b/) } @after),
   'never two of one host');

$r = api(PATCH => "jobs/$id", json => { parallel => 3 });
is($r->{status}, 409, 'PATCH of a done job: 409');
$r = api(PATCH => "jobs/$id", json => { parallel => 0 });
is($r->{status}, 400, 'parallel 0: 400');
$r = api(PATCH => "jobs/$id", json => { parallel => 65 });
is($r->{status}, 400, 'parallel 65: 400');
$r = api(PATCH => "jobs/999999", json => { parallel => 2 });
is($r->{status}, 404, 'unknown job: 404');

# kept over a pause and a continue (the tasks again, so each schema takes
# its second)
$db->do("UPDATE context_server2db_pool SET server_id = 2");
OxAdmin::schema_sql($_, 'DELETE FROM updateTask') for @a;
$host2->sql_in($_, 'DELETE FROM updateTask') for @b;
$r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                      continue => JSON::PP::true,
                                      pause_after => 1 });
$id = $r->{json}{job};
$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'paused', 'paused by the canary');
is($job->{processed}, 1, 'after exactly one schema');
$r = api(PATCH => "jobs/$id", json => { parallel => 2 });
is($r->{status}, 200, 'PATCH of a paused job');
$r = api(POST => "jobs/$id/continue");
is($r->{status}, 202, 'continue');
$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'done');
is($job->{parallel}, 2, 'with parallel 2');
%w = map { $_->[0] => [ $_->[1], $_->[2] ] } @{ $db->sql(
    "SELECT name, disabled_at, enabled_at FROM oxmigrate_job_schema"
    . " WHERE job_id = $id") };
ok((grep { my $x = $_; grep { overlap($x, $_) } @b } @a[1 .. 3]),
   'the continued job runs two at once');

done_testing();
