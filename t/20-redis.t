#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Redis is optional and never in the way: absent when nginx starts, killed
# in the middle of a run, frozen (SIGSTOP), back again.  Decisions stay
# right, from MariaDB, and no login waits longer than the Redis timeout
# plus a query.  Also AUTH (password=) and SELECT (db=).  No shared-memory
# cache here, so every login asks Redis (when it is up) or MariaDB.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use OxTest qw(login login_start oxerror_ok pass_ok);

my $db = OxTest::db('redis');
$db->load('demo.sql');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');

my $redis = OxTest::redis();
$redis->stop;                       # absent when nginx starts

my $URL = 'https://upgrade.example.com/';
my $conf = OxTest::standins() . <<"EOF";
    @{[ $db->directive ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%% timeout=300ms
                    ttl=60s %%REDIS_EXTRA%%;
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            add_header X-Decision \$oxmigrate_decision always;
            add_header X-Cache \$oxmigrate_cache always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /plain { return 200 "plain\\n"; }
    }
EOF
my $ng = OxTest::nginx($conf, db => $db, redis => $redis, workers => 2,
                       vars => { REDIS_EXTRA => '' });
my $P = $ng->port('P');

# the decisions, checked together; returns the cache sources seen
sub decisions_ok {
    my ($name, $max_ms) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my (@why, %src);
    for my $i (1 .. 4) {
        my $r = login(port => $P, user => 'd@ctx4.example.com');
        my $j = OxTest::json($r->{body});
        push @why, "ctx4: $r->{status} $r->{body}"
            unless $j && ($j->{code} // '') eq 'LGI-0016';
        push @why, sprintf('ctx4: %.0f ms', $r->{ms}) if $r->{ms} > $max_ms;
        $src{ $r->{headers}{'x-cache'} // '-' }++;
        $r = login(port => $P, user => 'a@ctx1.example.com');
        push @why, "ctx1: $r->{status} $r->{body}"
            unless $r->{status} == 200 && $r->{body} eq "old cluster\n";
        push @why, sprintf('ctx1: %.0f ms', $r->{ms}) if $r->{ms} > $max_ms;
        $src{ $r->{headers}{'x-cache'} // '-' }++;
    }
    ok(!@why, $name) or diag join "\n", @why;
    return \%src;
}

# --- Redis absent
my $src = decisions_ok('Redis absent at start: decided from MariaDB', 300);
is_deeply([sort keys %$src], ['db'], 'Redis absent: every answer from db');
$db->do('UPDATE context_server2db_pool SET server_id = 2 WHERE cid = 4');
pass_ok(login(port => $P, user => 'd@ctx4.example.com'), 'old cluster',
        'Redis absent: a configdb change is seen at once');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');

# --- Redis comes up: lookups are stored there and answered from there
$redis->start;
ok(OxTest::wait_for(sub {
    login(port => $P, user => 'd@ctx4.example.com');
    ($redis->cmd('EXISTS', 'oxmigrate:v0:ctx4.example.com') // 0) == 1
}, 5), 'Redis up: answers stored under oxmigrate:v0:<context part>');
ok(OxTest::wait_for(sub {
    (login(port => $P, user => 'd@ctx4.example.com')->{headers}{'x-cache'}
     // '') eq 'redis'
}, 5), 'Redis up: answered from redis');
decisions_ok('Redis up: decided', 300);
is($redis->cmd('TTL', 'oxmigrate:v0:ctx4.example.com') > 0 ? 1 : 0, 1,
   'entries expire (ttl)');

# --- killed in the middle of a run
my @run;
my $t_end = Time::HiRes::time() + 2;
my $killed = 0;
while (Time::HiRes::time() < $t_end) {
    push @run, [login_start(port => $P, user => 'd@ctx4.example.com'), 'LGI'];
    push @run, [login_start(port => $P, user => 'a@ctx1.example.com'), 'old'];
    if (!$killed && Time::HiRes::time() > $t_end - 1.5) {
        $redis->kill;
        $killed = 1;
    }
    $_->[0]->wait for @run[-2, -1];
}
my @bad;
for my $x (@run) {
    my $r = $x->[0]->wait;
    my $ok = $x->[1] eq 'old' ? $r->{body} eq "old cluster\n"
                              : $r->{body} =~ /"LGI-0016"/;
    push @bad, "$r->{status} $r->{body}" unless $ok && $r->{status} == 200;
    push @bad, sprintf('%.0f ms', $r->{ms}) if $r->{ms} > 1000;
}
is("@bad", '', scalar(@run) . ' logins while Redis was killed: all right');
$src = decisions_ok('Redis killed: decided from MariaDB', 300);
is_deeply([sort keys %$src], ['db'], 'Redis killed: answers from db');

# --- frozen: connected, no answers; the Redis timeout (300 ms) applies
$redis->start;
OxTest::wait_for(sub {
    (login(port => $P, user => 'd@ctx4.example.com')->{headers}{'x-cache'}
     // '') eq 'redis'
}, 5) or diag 'Redis did not come back';
$redis->sigstop;
decisions_ok('Redis frozen: decided within Redis timeout + query', 1000);
my $r = OxTest::http(GET => '/plain', port => $P);
ok($r->{ms} < 100, sprintf('Redis frozen: plain request %.1f ms', $r->{ms}));
$redis->sigcont;
ok(OxTest::wait_for(sub {
    (login(port => $P, user => 'd@ctx4.example.com')->{headers}{'x-cache'}
     // '') eq 'redis'
}, 5), 'Redis thawed: answered from redis again');
decisions_ok('Redis thawed: decided', 300);

# --- killed while logins wait for its answers: frozen first, so that the
# GETs are in flight when the connection breaks (well within the 300 ms
# timeout); they go on to MariaDB
$redis->sigstop;
my @inflight = map { [login_start(port => $P, user => $_->[0]), $_->[1]] }
               map { (['d@ctx4.example.com', 'LGI'],
                      ['a@ctx1.example.com', 'old']) } 1 .. 5;
Time::HiRes::sleep(0.1);
$redis->kill;
@bad = ();
for my $x (@inflight) {
    my $r = $x->[0]->wait;
    my $ok = $x->[1] eq 'old' ? $r->{body} eq "old cluster\n"
                              : $r->{body} =~ /"LGI-0016"/;
    push @bad, "$r->{status} $r->{body}" unless $ok && $r->{status} == 200;
    push @bad, sprintf('%.0f ms', $r->{ms}) if $r->{ms} > 1000;
}
is("@bad", '', '10 logins waiting on Redis when it was killed: all right');
$redis->start;
ok(OxTest::wait_for(sub {
    (login(port => $P, user => 'd@ctx4.example.com')->{headers}{'x-cache'}
     // '') eq 'redis'
}, 5), 'Redis restarted: answered from redis again');
$ng->stop;

# --- AUTH and SELECT
my $redis2 = OxTest::redis(password => 's3cret');
my $ng2 = OxTest::nginx($conf, db => $db, redis => $redis2,
                        vars => { REDIS_EXTRA => 'password=s3cret db=3' });
$P = $ng2->port('P');
ok(OxTest::wait_for(sub {
    login(port => $P, user => 'd@ctx4.example.com');
    ($redis2->cmd('-n', 3, 'EXISTS', 'oxmigrate:v0:ctx4.example.com') // 0)
        == 1
}, 5), 'password= and db=3: entries stored in database 3');
decisions_ok('with AUTH: decided', 300);
$ng2->stop;

# --- prefix= and ttl=: the documented key layout under another prefix,
# with the epoch read from <prefix>epoch
my $ng4 = OxTest::nginx($conf, db => $db, redis => $redis,
                        vars => { REDIS_EXTRA => 'prefix=oxt2:' });
$P = $ng4->port('P');
ok(OxTest::wait_for(sub {
    login(port => $P, user => 'd@ctx4.example.com');
    ($redis->cmd('EXISTS', 'oxt2:v0:ctx4.example.com') // 0) == 1
}, 5), 'prefix=oxt2: entries stored under oxt2:v0:<context part>');
my $v = $redis->cmd('GET', 'oxt2:v0:ctx4.example.com');
my ($expiry) = $v =~ /^(\d+) 4 8 1 0 12 oxdatabase_6oxserver-xyz$/;
ok($expiry, "value '<expiry ms> <cid> <server_id> <enabled> <reason_id> "
            . "<schema length> <schema><server name>': $v");
my $ttl = $redis->cmd('TTL', 'oxt2:v0:ctx4.example.com');
ok($ttl > 50 && $ttl <= 60, "ttl=60s: EX 60 ($ttl s left)");
ok($expiry && abs($expiry / 1000 - (time + $ttl)) < 3,
   'the expiry stamp agrees with the EX');
login(port => $P, user => 'x@nowhere.example.com');
OxTest::wait_for(sub {
    ($redis->cmd('EXISTS', 'oxt2:v0:nowhere.example.com') // 0) == 1 }, 2);
like($redis->cmd('GET', 'oxt2:v0:nowhere.example.com'), qr/^\d+ -$/,
     "an unknown context part: '<expiry ms> -'");
$ttl = $redis->cmd('TTL', 'oxt2:v0:nowhere.example.com');
ok($ttl > 0 && $ttl <= 2, "... for negative_ttl (2 s): $ttl s left");
$redis->cmd('SET', 'oxt2:epoch', 7);
ok(OxTest::wait_for(sub {
    login(port => $P, user => 'd@ctx4.example.com');
    ($redis->cmd('EXISTS', 'oxt2:v7:ctx4.example.com') // 0) == 1
}, 3), 'epoch read from oxt2:epoch: entries now under oxt2:v7:');
is($redis->cmd('EXISTS', 'oxmigrate:v7:ctx4.example.com'), 0,
   '... and nothing under the default prefix');
$ng4->stop;

# --- wrong password: Redis unusable, MariaDB answers
my $ng3 = OxTest::nginx($conf, db => $db, redis => $redis2,
                        vars => { REDIS_EXTRA => 'password=wrong' });
$P = $ng3->port('P');
Time::HiRes::sleep(0.5);
decisions_ok('wrong Redis password: decided from MariaDB', 300);
$ng3->stop;

done_testing;
