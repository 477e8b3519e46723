#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# oxmigrate_hold during a job (issue 20, the admin side): once a schema of
# the job is done, each next disable writes <prefix>window:<schema> (now +
# the job's mean downtime so far), and a balancer whose hold time is
# shorter answers that schema's logins at once instead of holding them in
# vain, while one with a longer hold time holds them and answers with the
# redirect after the enable.  GET /jobs/{id} shows per schema how many were
# held and how many still got the maintenance answer.  No change log here:
# the balancers follow the Redis epoch the job increments.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use OxTest qw(login_start oxerror_ok);
use OxAdmin;

my $site = OxAdmin::site('adm_hold', schemas => 2, contexts => 2);
my @s = @{ $site->{schemas} };
my $redis = OxTest::redis();

# every schema takes about 3 s: its one task sleeps
my $tasks = OxAdmin::tasks('010_slow.sql' => "-- task: t.Slow\nDO SLEEP(3);\n");

my $URL = 'https://new.example.com';
my $ng = OxAdmin::nginx($site, tasks => $tasks, redis => $redis,
    http => OxTest::standins() . <<"EOF");
    oxmigrate_cache zone=oxt_adm_hold:1m ttl=60s;
    server {
        listen 127.0.0.1:%%PORT_P%%;
        oxmigrate_server oxserver-old;
        oxmigrate_redirect_url $URL;
        add_header X-Held \$oxmigrate_held always;
        location /long/ { oxmigrate on; oxmigrate_hold 30s;
                          proxy_pass http://127.0.0.1:%%PORT_OLD%%; }
        location /short/ { oxmigrate on; oxmigrate_hold 500ms;
                           proxy_pass http://127.0.0.1:%%PORT_OLD%%; }
        location /nohold/ { oxmigrate on;
                            proxy_pass http://127.0.0.1:%%PORT_OLD%%; }
        location = /metrics { oxmigrate_metrics; }
    }
EOF
my $P = $ng->port('P');

sub outcome {
    my $b = OxTest::http(GET => '/metrics', port => $P)->{body};
    return $b =~ /^oxmigrate_held_total\{outcome="$_[0]"\} (\d+)$/m ? $1 : -1;
}
sub held_now {
    my $b = OxTest::http(GET => '/metrics', port => $P)->{body};
    return $b =~ /^oxmigrate_held_requests (\d+)$/m ? $1 : -1;
}

# the balancer counts into Redis once it is connected
ok(OxTest::wait_for(sub {
       OxTest::http(GET => '/metrics', port => $P)->{body}
           =~ /^oxmigrate_redis_up 1$/m }, 10), 'the balancer is connected to Redis');

# the first schema: no window (nothing measured yet), its logins are held
my $r = OxAdmin::api($ng, POST => 'upgrade',
                     json => { server => 'oxserver-new', pause_after => 1 });
is($r->{status}, 202, 'upgrade, pause after the first schema');
my $id = $r->{json}{job};
ok(OxTest::wait_for(sub {
       $site->{db}->sql("SELECT enabled FROM context WHERE cid = 1")->[0][0] eq '0'
   }, 20, 0.05), "$s[0] disabled by the job");
my $probes = 0;
ok(OxTest::wait_for(sub {
       my $b = login_start(port => $P, user => 'p@ctx2.example.com',
                           path => '/nohold/login')->wait->{body};
       $probes++ if $b =~ /CTX-0007/;
       $b =~ /CTX-0007/;
   }, 10, 0.05), 'the balancer sees it (the Redis epoch)');
my $h1 = login_start(port => $P, user => 'a@ctx1.example.com',
                     path => '/long/login', timeout => 60);
ok(OxTest::wait_for(sub { held_now() == 1 }, 10), 'its login is held');
is($redis->cmd('EXISTS', "oxmigrate:window:$s[0]"), 0,
   'no expected window before a schema is done');

my $job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'paused', 'paused after the first schema');
my $r1 = $h1->wait;
oxerror_ok($r1, 'LGI-0016', ["$URL"], 'the held login: LGI-0016 after the enable');
like($r1->{headers}{'x-held'} // '', qr/^\d+\.\d{3}$/, '... $oxmigrate_held set');
$job = OxAdmin::api($ng, GET => "jobs/$id")->{json};    # after the answer
my $down = $job->{schemas}[0]{downtime_ms};
ok($down >= 3000, "$s[0] was down $down ms");
is($job->{schemas}[0]{held}, 1, 'job view: 1 request held');
is($job->{schemas}[0]{maintenance_answers}, $probes,
   '... the maintenance answers: the probe without hold');

# the second schema: expected back in about $down ms
my $win0 = outcome('window');
$r = OxAdmin::api($ng, POST => "jobs/$id/continue");
ok($r->{status} < 300, 'continue');
my $win;
ok(OxTest::wait_for(sub {
       $win = $redis->cmd('GET', "oxmigrate:window:$s[1]"); $win =~ /^\d+$/
   }, 20, 0.05), "$s[1] disabled: oxmigrate:window:$s[1] written");
my $expect = $win - int(time * 1000);
ok($expect > $down - 1500 && $expect <= $down + 100,
   "... now + the mean downtime so far ($expect ms, mean $down)");
ok(OxTest::wait_for(sub {
       $site->{db}->sql("SELECT enabled FROM context WHERE cid = 3")->[0][0] eq '0'
   }, 20, 0.05), "$s[1] disabled");

# wait until the balancer sees the maintenance (the epoch): a short hold
my $rs;
OxTest::wait_for(sub {
    $rs = login_start(port => $P, user => 'b@ctx3.example.com',
                      path => '/short/login')->wait;
    $rs->{body} =~ /CTX-0007/;
}, 10, 0.05);
oxerror_ok($rs, 'CTX-0007', undef,
           'hold 500 ms, schema expected back later: CTX-0007');
# held at most while the balancer asks Redis for the window, never until
# its hold time ran out (the metric below says which outcome it was)
ok(($rs->{headers}{'x-held'} || 0) < 0.5,
   "... before its hold time (held $rs->{headers}{'x-held'} s), not in vain");
ok(outcome('window') > $win0, '... oxmigrate_held_total{outcome="window"}');
my $h2 = login_start(port => $P, user => 'c@ctx4.example.com',
                     path => '/long/login', timeout => 60);
ok(OxTest::wait_for(sub { held_now() == 1 }, 10),
   'hold 30 s, longer than the expected window: held');

$job = OxAdmin::wait_job($ng, $id, 60);
is($job->{state}, 'done', 'the job is done');
oxerror_ok($h2->wait, 'LGI-0016', ["$URL"], 'the held login: LGI-0016');
$job = OxAdmin::api($ng, GET => "jobs/$id")->{json};
is($job->{schemas}[1]{held}, 1, "job view: $s[1] held 1");
ok($job->{schemas}[1]{maintenance_answers} >= 1,
   '... and counts the maintenance answers');

$ng->stop;
done_testing();
