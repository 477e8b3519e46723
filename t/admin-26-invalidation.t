#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# How the admin API tells the balancers (issue 9, points 3 and 6): the
# answer's "cache_invalidation" says what really happened: "redis epoch"
# (INCR done, also over a unix socket), "failed" with the reason (Redis
# refusing the INCR: maxmemory with noeviction), "change log" (the
# triggers of sql/changelog.sql recorded it: no global flush), and a job
# keeps a failed invalidation in its schema's message.
# oxmigrate_maintenance_reason is the reason the API's disable writes.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_inval', schemas => 3, contexts => 2);
my ($s1, $s2, $s3) = @{ $site->{schemas} };
my $db = $site->{db};
my $redis = OxTest::redis(unix => 1);

my $ng = OxAdmin::nginx($site,
    http => 'oxmigrate_redis host=unix:' . $redis->socket . ';'
            . ' oxmigrate_maintenance_reason 42;'
            . ' server { listen 127.0.0.1:%%PORT_M%%;'
            . ' location = /metrics { oxmigrate_metrics; } }');

sub epoch { $redis->cmd('GET', 'oxmigrate:epoch') || 0 }

# --- INCR over the unix socket
my $e0 = epoch();
my $r = OxAdmin::api($ng, POST => "schemas/$s1/disable");
is($r->{status}, 200, 'disable: 200');
is($r->{json}{cache_invalidation}, 'redis epoch', '"cache_invalidation": "redis epoch"');
is(epoch(), $e0 + 1, '... the epoch was incremented over the unix socket');
is($db->value("SELECT COUNT(*) FROM context c JOIN context_server2db_pool p"
              . " USING (cid) WHERE p.db_schema = '$s1' AND c.enabled = 0"
              . " AND c.reason_id = 42"), 2,
   'oxmigrate_maintenance_reason 42: the disable wrote reason 42');
my $list = OxAdmin::api($ng, GET => 'schemas');
my ($row) = grep { $_->{name} eq $s1 } @{ $list->{json}{schemas} // [] };
ok($row && ($row->{maintenance} // -1) == 2,
   'GET /schemas counts the contexts disabled with reason 42')
    or diag(explain($row));
$r = OxAdmin::api($ng, POST => "schemas/$s1/enable");
is($r->{json}{contexts}, 2, 'enable: the two contexts of reason 42 come back');

# --- Redis refuses the INCR
$redis->cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
$redis->cmd('CONFIG', 'SET', 'maxmemory', '1');
$r = OxAdmin::api($ng, POST => "schemas/$s2/disable");
is($r->{status}, 200, 'disable with Redis refusing writes: still 200 (configdb changed)');
is($r->{json}{cache_invalidation}, 'failed', '"cache_invalidation": "failed"');
like($r->{json}{cache_invalidation_error} // '', qr/INCR oxmigrate:epoch failed: OOM/,
     '... with the reason (OOM)');
unlike($ng->error_log, qr/secret/, 'no password in the error log');

# a job says so too
my $j = OxAdmin::api($ng, POST => 'upgrade', json => { server => 'oxserver-xyz',
                                                       continue => JSON::PP::true });
is($j->{status}, 202, 'a job starts') or diag($j->{body});
my $job = OxAdmin::wait_job($ng, $j->{json}{job});
my @msgs = map { $_->{message} // '' } @{ $job->{schemas} // [] };
ok(@msgs && !grep({ !/cache invalidation failed: INCR oxmigrate:epoch failed: OOM/ } @msgs),
   "every schema of the job says its invalidation failed") or diag(explain($job));
$redis->cmd('CONFIG', 'SET', 'maxmemory', '0');

# the job in oxmigrate_metrics: its schemas by state, their downtime
my $n = scalar @{ $job->{schemas} // [] };
my $m = OxTest::http(GET => '/metrics', port => $ng->port('M'))->{body};
like($m, qr/^oxmigrate_job_schemas\{state="done"\} $n$/m,
     "metrics: the job's $n schemas done");
like($m, qr/^oxmigrate_job_schemas\{state="pending"\} 0$/m, '... none pending');
like($m, qr/^oxmigrate_schema_downtime_seconds_count $n$/m,
     "... $n downtimes in the histogram");
like($m, qr/^oxmigrate_update_tasks_total\{result="failed"\} 0$/m,
     '... no update task failed');
like($m, qr/^oxmigrate_job_eta_seconds 0$/m, '... and nothing left: ETA 0 s');

# --- with the change log installed: no global flush
$db->load('changelog.sql');
$e0 = epoch();
my $n0 = $db->value('SELECT COUNT(*) FROM oxmigrate_change');
$r = OxAdmin::api($ng, POST => "schemas/$s3/disable");
is($r->{json}{cache_invalidation}, 'change log', '"cache_invalidation": "change log"');
is(epoch(), $e0, '... the epoch is left alone (no global flush)');
ok($db->value('SELECT COUNT(*) FROM oxmigrate_change') > $n0,
   '... the triggers recorded the change');

# a job reads whether the change log is there with its schema's disable
# (no statement of its own): the triggers tell the balancers, no epoch
$r = OxAdmin::api($ng, POST => "schemas/$s3/enable");
is($r->{json}{cache_invalidation}, 'change log', 'enable: "change log"');
$e0 = epoch();
$n0 = $db->value('SELECT COUNT(*) FROM oxmigrate_change');
$j = OxAdmin::api($ng, POST => 'upgrade', json => { server => 'oxserver-old',
                                                    continue => JSON::PP::true });
is($j->{status}, 202, 'a job back to oxserver-old starts') or diag($j->{body});
$job = OxAdmin::wait_job($ng, $j->{json}{job});
is($job->{state}, 'done', '... done');
@msgs = map { $_->{message} // '' } @{ $job->{schemas} // [] };
ok(@msgs == 3 && !grep({ $_ ne '' } @msgs),
   '... no schema says its invalidation failed') or diag(explain($job));
is(epoch(), $e0, '... the epoch is left alone (the change log told them)');
ok($db->value('SELECT COUNT(*) FROM oxmigrate_change') >= $n0 + 3,
   '... the triggers recorded each schema\'s changes');

$ng->stop;
done_testing;
