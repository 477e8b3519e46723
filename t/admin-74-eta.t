#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Issue 10's job part: rate (contexts per second over the schemas done,
# each weighted by its contexts) and eta_seconds in GET /jobs/{id}, checked
# against the job's own rows; dry_run's per-schema estimate once a job has
# measured one (null before).  oxmigrate_metrics' job_eta_seconds is the
# same estimate, and job_schema_running_seconds grows while a schema runs.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm_eta', schemas => 5, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

my $ox = OxAdmin::oxtools($site, tasks => [
    { name => 't.A' },
    { name => 't.Slow', sleep => 2 },
]);
my $ng = OxAdmin::nginx($site, ox => $ox, refresh => '1s', idle => '3s',
    http => 'server { listen 127.0.0.1:%%PORT_M%%;'
            . ' location = /metrics { oxmigrate_metrics; } }');
sub api { OxAdmin::api($ng, @_) }
sub metric {
    my ($name) = @_;
    my $b = OxTest::http(GET => '/metrics', port => $ng->port('M'))->{body};
    return $b =~ /^\Q$name\E (\S+)$/m ? $1 : undef;
}

# the second schema has 10 contexts: weighting by contexts shows
$db->do("INSERT INTO context (cid, name, enabled, reason_id, quota_max) VALUES "
        . join(',', map { "($_, 'ctx$_', 1, NULL, -1)" } 100 .. 107) . ';'
        . " INSERT INTO context_server2db_pool (server_id, cid, read_db_pool_id,"
        . " write_db_pool_id, db_schema) VALUES "
        . join(',', map { "(2, $_, 3, 3, '$s[1]')" } 100 .. 107));

my $r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                         dry_run => JSON::PP::true });
is($r->{status}, 200, 'dry_run');
is($r->{json}{estimate_seconds}, undef, 'no estimate before any job');
is($r->{json}{schemas}[0]{estimate_seconds}, undef, 'none per schema');

$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      only => [ @s[0 .. 2] ],
                                      pause_after => 1 });
is($r->{status}, 202, 'upgrade of 3, canary 1');
my $id = $r->{json}{job};
my $job = api(GET => "jobs/$id")->{json};
is($job->{rate}, undef, 'nothing done yet: rate null');
is($job->{eta_seconds}, undef, 'eta null');

$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'paused', 'paused after one');

sub expect {
    my ($id) = @_;
    my $rows = $db->sql("SELECT state, COALESCE(NULLIF(contexts, 0), 1),"
                        . " ended_at - started_at FROM oxmigrate_job_schema"
                        . " WHERE job_id = $id");
    my ($ctx, $ms, $left) = (0, 0, 0);
    for my $row (@$rows) {
        if ($row->[0] eq 'done') { $ctx += $row->[1]; $ms += $row->[2] }
        elsif ($row->[0] =~ /pending|running/) { $left += $row->[1] }
    }
    my $rate = $ctx * 1000 / $ms;
    return ($rate, int($left / $rate + 0.5), $ms);
}

my ($rate, $eta, $ms) = expect($id);
ok($ms >= 2000, "the schema took $ms ms (its 2 s task)");
ok(abs($job->{rate} - $rate) < 1e-6 * $rate,
   "rate $job->{rate} = 2 contexts / its duration");
is($job->{eta_seconds}, $eta, "eta_seconds $eta = 12 contexts left / rate");
ok($eta >= 5 && $eta <= 40, 'two schemas more, one of 10 contexts');
my $g = metric('oxmigrate_job_eta_seconds');
ok(defined $g && abs($g - $eta) <= 1,
   "metrics: oxmigrate_job_eta_seconds $g, as eta_seconds ($eta)");
is(metric('oxmigrate_job_schemas{state="pending"}'), 2, '... 2 schemas pending');
is(metric('oxmigrate_job_schema_running_seconds'), '0.000', '... none running');

# weighted by contexts: the done schema counted as 10 contexts
$db->do("UPDATE oxmigrate_job_schema SET contexts = 10 WHERE job_id = $id"
        . " AND state = 'done'");
$job = api(GET => "jobs/$id")->{json};
my $rate2 = $rate;
($rate, $eta) = expect($id);
ok(abs($job->{rate} - $rate) < 1e-6 * $rate
   && abs($job->{rate} - 5 * $rate2) < 1e-6 * $rate,
   "weighted: 10 contexts in the same time: rate $job->{rate}, 5 times"
   . " the rate of 2 contexts");
is($job->{eta_seconds}, $eta, "eta_seconds $eta");
$db->do("UPDATE oxmigrate_job_schema SET contexts = 2 WHERE job_id = $id");

# parallel 4, but the schemas left are all on one database host
$r = api(PATCH => "jobs/$id", json => { parallel => 4 });
($rate, $eta) = expect($id);
is(api(GET => "jobs/$id")->{json}{eta_seconds}, $eta,
   'parallel 4 on one database host: the same eta (one at a time)');

$r = api(POST => "jobs/$id/continue");
my $running = 0;
OxTest::wait_for(sub {
    my $v = metric('oxmigrate_job_schema_running_seconds') // 0;
    $running = $v if $v > $running;
    return $running >= 1;
}, 10, 0.1);
ok($running >= 1, "while a schema runs, job_schema_running_seconds grows ($running)");
$job = OxAdmin::wait_job($ng, $id, 30);
is($job->{state}, 'done', 'done');
ok($job->{rate} > 0, 'a finished job keeps its rate');
is($job->{eta_seconds}, undef, 'and has no eta');

# dry_run now estimates from that job
($rate) = expect($id);
$r = api(POST => 'upgrade', json => { server => 'oxserver-new',
                                      continue => JSON::PP::true,
                                      dry_run => JSON::PP::true });
is($r->{json}{estimate_from_job}, $id, "estimates from job $id");
is_deeply([ map { $_->{name} } @{ $r->{json}{schemas} } ], [ @s[3, 4] ],
          'the two left');
my $per = 2 / $rate;
ok(abs($r->{json}{schemas}[0]{estimate_seconds} - $per) < 1e-3,
   "per schema: 2 contexts at the measured rate: "
   . "$r->{json}{schemas}[0]{estimate_seconds} s");
ok(abs($r->{json}{estimate_seconds} - 2 * $per) < 1e-3,
   "in all: $r->{json}{estimate_seconds} s");

done_testing();
