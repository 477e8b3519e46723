#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# nginx -s reload while an upgrade job runs: the old worker finishes the
# schema it is working on (its update is not cut off), starts no further
# one and records the job "interrupted" at once; the new workers resume it.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_reload', schemas => 3, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

my $tasks = OxAdmin::tasks(
    '010_slow.sql' => "-- task: t.Slow\nSELECT SLEEP(IF((SELECT COUNT(*)"
                    . " FROM information_schema.tables WHERE table_schema ="
                    . " DATABASE() AND table_name = 'slow_flag') > 0,"
                    . " 3, 0));\nCREATE TABLE run_log (task VARCHAR(64));\n"
                    . "INSERT INTO run_log VALUES ('t.Slow');\n",
);

# a long idle time: "interrupted" must not come from a stale heartbeat
my $ng = OxAdmin::nginx($site, tasks => $tasks, refresh => '1s',
                        idle => '60s');
sub api { OxAdmin::api($ng, @_) }

OxAdmin::schema_sql($s[0], 'CREATE TABLE slow_flag (id INT)');

my $r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                         continue => JSON::PP::true });
is($r->{status}, 202, 'upgrade started');
my $id = $r->{json}{job};

ok(OxTest::wait_for(sub {
    (api(GET => "jobs/$id")->{json}{current} // '') eq $s[0]
}, 10, 0.05), "the job works on $s[0]");

my $t0 = time;
$ng->reload;
ok(time - $t0 >= 1.5, sprintf('reload waited for the running schema'
                               . ' (%.1f s)', time - $t0));

my $job = api(GET => "jobs/$id")->{json};
is($job->{state}, 'interrupted', 'the job is interrupted at once');
is_deeply([ map { $_->{state} } @{ $job->{schemas} } ],
          [ 'done', 'pending', 'pending' ],
          'the running schema was finished, no other started');
is_deeply(OxAdmin::schema_sql($s[0], 'SELECT task FROM run_log'),
          [ ['t.Slow'] ], 'its update ran to the end');

$r = api(POST => "jobs/$id/resume");
is($r->{status}, 202, 'resumed by a new worker');
is($r->{json}{remaining}, 2, 'two schemas left');
$job = OxAdmin::wait_job($ng, $id);
is($job->{state}, 'done', 'done');
is($db->value('SELECT COUNT(*) FROM context_server2db_pool'
              . ' WHERE server_id = 8'), 6, 'every context moved');
is($db->value('SELECT COUNT(*) FROM context WHERE enabled = 1'), 6,
   'and enabled');

$ng->stop;
done_testing();
