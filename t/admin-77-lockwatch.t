#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# oxmigrate_update_lock_watch (issue 10, "a stale OX lock"): one worker
# looks at every schema's updateTask each INTERVAL and oxmigrate_metrics
# says how many LOCKED and BACKGROUND rows are held or stale (older than
# oxmigrate_update_lock_idle), the oldest one's age and when the scan
# ended; each stale lock is named in the error log with the call that
# frees it.  A database that cannot be read is counted, and the others
# are still reported.  The lock rows' ages and the idle time are in the
# tests' clock (oxmigrate_test_clock): a lock goes stale when the clock is
# moved past the idle time, never because the machine was slow.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_lockw', schemas => 4, contexts => 1);
my ($s1, $s2, $s3, $s4) = @{ $site->{schemas} };
my $db = $site->{db};
my $suite = OxAdmin::suite();

my $clock = OxTest::test_clock();
my $ng = OxAdmin::nginx($site, workers => 2, idle => '60s', clock => $clock,
    extra => 'oxmigrate_update_lock_watch 1s;',
    http => 'server { listen 127.0.0.1:%%PORT_M%%;'
            . ' location = /metrics { oxmigrate_metrics; } }');

sub scrape {
    my $r = OxTest::http(GET => '/metrics', port => $ng->port('M'));
    my %v;
    for (split /\n/, $r->{body}) {
        $v{$1} = $2 if /^(oxmigrate_update_lock\S*) (\S+)$/;
    }
    return (\%v, $r->{body});
}

# the values of the first scan that ends after now
sub next_scan {
    my $t0 = time;
    my $v;
    OxTest::wait_for(sub {
        ($v) = scrape();
        my $ts = $v->{oxmigrate_update_lock_scan_timestamp_seconds};
        return defined $ts && $ts >= int($t0) + 1;
    }, 10, 0.2) or diag('no scan after ' . $t0);
    return $v;
}

for my $s ($s1, $s2, $s3) {
    $suite->sql_in($s, 'CREATE TABLE updateTask (cid INT UNSIGNED NOT NULL,'
        . ' taskName VARCHAR(1024) NOT NULL, successful BOOLEAN NOT NULL,'
        . ' lastModified BIGINT NOT NULL, uuid BINARY(16) NOT NULL,'
        . ' PRIMARY KEY (cid, uuid), INDEX full (cid, taskName(191)))');
}

sub lock_row {
    my ($schema, $what, $age_s) = @_;
    my $uuid = $what eq 'LOCKED' ? '8d8b93e559794baca39daef8f87087a1'
                                 : '5b7a2847985a49aa874c17df79af48b3';
    $suite->sql_in($schema, "REPLACE INTO updateTask (cid, taskName, successful,"
        . " lastModified, uuid) VALUES (0, '$what', 1, "
        . ($clock->now_ms - $age_s * 1000) . ", UNHEX('$uuid'))");
}

my $B = 'oxmigrate_update_locks{lock="blocking",state=';
my $G = 'oxmigrate_update_locks{lock="background",state=';

# --- nothing locked
my $v = next_scan();
is($v->{"${B}\"held\"}"}, 0, 'no lock: blocking held 0');
is($v->{"${B}\"stale\"}"}, 0, '... blocking stale 0');
is($v->{"${G}\"stale\"}"}, 0, '... background stale 0');
is($v->{oxmigrate_update_lock_oldest_seconds}, '0.000', '... oldest 0');
is($v->{oxmigrate_update_lock_scan_failures_total}, 0, '... no failure');

# --- a live lock, a dead one, a dead background lock
lock_row($s1, 'LOCKED', 0);
lock_row($s2, 'LOCKED', 600);
lock_row($s3, 'BACKGROUND', 900);
$v = next_scan();
is($v->{"${B}\"held\"}"}, 1, "${s1}'s fresh LOCKED row: held");
is($v->{"${B}\"stale\"}"}, 1, "${s2}'s LOCKED row 600 s old: stale");
is($v->{"${G}\"stale\"}"}, 1, "${s3}'s BACKGROUND row 900 s old: stale");
is($v->{"${G}\"held\"}"}, 0, '... no background lock held');
ok($v->{oxmigrate_update_lock_oldest_seconds} >= 900
   && $v->{oxmigrate_update_lock_oldest_seconds} < 960,
   "the oldest lock's age: $v->{oxmigrate_update_lock_oldest_seconds} s");

my (undef, $body) = scrape();
unlike($body, qr/\Q$site->{prefix}\E/, 'no schema name in the metrics');
my @bad = grep { !/^#/ && !/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.]+$/ }
          split /\n/, $body;
is_deeply(\@bad, [], 'every sample line is well formed');

my $log = $ng->error_log;
like($log, qr/\[warn\].*schema "\Q$s2\E": OX's LOCKED row was not refreshed for (599|6\d\d) s.*unblockdatabase \(POST \/databases\/3\/unblock\)/,
     "the error log names ${s2}'s stale LOCKED row and the call that frees it");
like($log, qr/\[warn\].*schema "\Q$s3\E": OX's BACKGROUND row was not refreshed/,
     "... and ${s3}'s BACKGROUND row");
unlike($log, qr/schema "\Q$s1\E": OX's/, "... not ${s1}'s live lock");
my %pids = map { /\[warn\] (\d+)#/ ? ($1 => 1) : () }
           grep { /OX's (LOCKED|BACKGROUND) row/ } split /\n/, $log;
is(scalar(keys %pids), 1, 'one worker of the two scans (the warnings come from one pid)');

# --- a lock nobody refreshes becomes stale after oxmigrate_update_lock_idle
# (60 s of the tests' clock, moved on: no waiting for it, no race with it)
lock_row($s1, 'LOCKED', 0);
$v = next_scan();
is($v->{"${B}\"held\"}"}, 1, "${s1}'s lock just refreshed: held");
$clock->advance(61, $ng);
# a scan that started before the workers saw the new time may still end
# after this point: wait for the counts (a broken idle rule never gets there)
OxTest::wait_for(sub { ($v) = scrape(); $v->{"${B}\"held\"}"} == 0 }, 10, 0.1);
is($v->{"${B}\"held\"}"}, 0, "${s1}'s lock not refreshed for 61 s (idle 60s): no longer held");
is($v->{"${B}\"stale\"}"}, 2, '... two blocking locks stale');

# --- refreshed, it is held again
lock_row($s1, 'LOCKED', 0);
$v = next_scan();
is($v->{"${B}\"held\"}"}, 1, "${s1}'s lock refreshed: held again");

# --- unblockdatabase frees the dead ones; the counts follow
my $r = OxAdmin::api($ng, POST => 'databases/3/unblock', json => {});
is($r->{status}, 200, 'POST /databases/3/unblock: 200') or diag($r->{body});
lock_row($s1, 'LOCKED', 0);    # held: refreshed now, as its holder would
$v = next_scan();
is($v->{"${B}\"stale\"}"}, 0, 'after unblockdatabase: no stale blocking lock');
is($v->{"${B}\"held\"}"}, 1, "... ${s1}'s live lock is still there and held");

# --- a database that cannot be read: counted, the others still reported
my $dead = OxTest::free_port();
$db->do("INSERT INTO db_pool VALUES (9, 'jdbc:mysql://127.0.0.1:$dead/',"
        . " 'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'deaddb');"
        . " INSERT INTO contexts_per_dbschema VALUES (9, 'adm_lockw_dead', 0, 0)");
lock_row($s1, 'LOCKED', 0);    # held: refreshed now
$v = next_scan();
ok($v->{oxmigrate_update_lock_scan_failures_total} >= 1,
   'an unreachable database counts in oxmigrate_update_lock_scan_failures_total ('
   . $v->{oxmigrate_update_lock_scan_failures_total} . ')');
is($v->{"${B}\"held\"}"}, 1, '... and the readable ones are still reported');
is($v->{"${G}\"stale\"}"}, 1, "... ${s3}'s BACKGROUND lock too");
like($ng->error_log, qr/update lock scan: database 9: /,
     '... the error log names the database');

# --- a schema configdb knows but whose database is gone: nothing to lock
# (how many scans ran between two scrapes is not known on a busy machine:
# the error log says which failures a scan counted)
$suite->do("DROP DATABASE `$s4`");
$v = next_scan();
$v = next_scan();
unlike($ng->error_log, qr/update lock scan: schema "\Q$s4\E"/,
       'a dropped schema database is no failure of its own (only database 9'
       . ' is)');

# --- the directive's checks
my ($rc, $out) = OxTest::nginx_check(OxAdmin::admin_conf($site,
    extra => 'oxmigrate_update_lock_watch 500ms;'), db => $db,
    main => 'thread_pool oxmigrate threads=2;');
isnt($rc, 0, 'an interval under 1s is refused');
like($out, qr/must be 1s or more/, '... saying so');
($rc, $out) = OxTest::nginx_check($site->{db}->directive
    . ' server { listen 127.0.0.1:%%PORT_X%%; location / {'
    . ' oxmigrate_update_lock_watch 10s; } }', db => $db);
isnt($rc, 0, 'outside an admin location it is refused');
like($out, qr/needs "oxmigrate_admin on"/, '... saying so');

done_testing();
