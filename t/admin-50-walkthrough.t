#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The seed's walkthrough ("Upgrading from 7.10.0 without downtimes") end to
# end through both balancers, driven by the admin API: two nginx instances
# (primary with the admin API, secondary), each with its own shared-memory
# cache (ttl 60 s) and one shared Redis.  Every routing change must reach
# both balancers within a second through the Redis epoch, counted from the
# admin call's answer.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest qw(login oxerror_ok pass_ok);
use OxAdmin;

my $site = OxAdmin::site('adm_walk', schemas => 2, contexts => 3);
my ($s1, $s2) = @{ $site->{schemas} };
my $db = $site->{db};
my $redis = OxTest::redis();
my $URL = 'https://upgrade.example.com/appsuite/';

my $cache = 'oxmigrate_cache zone=oxm:1m ttl=60s negative_ttl=60s;';

my $primary = OxTest::standins() . OxAdmin::admin_conf($site,
    redis => $redis, http => "$cache
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }");
my $ng = OxTest::nginx($primary, db => $db, redis => $redis, workers => 2,
                       main => 'thread_pool oxmigrate threads=4;');

my $secondary = OxTest::standins() . <<"EOF";
    @{[ $db->directive ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%%;
    $cache
    server {
        listen 127.0.0.1:%%PORT_S%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }
    }
EOF
my $ng2 = OxTest::nginx($secondary, db => $db, redis => $redis,
                        workers => 2);

my ($P, $S) = ($ng->port('P'), $ng2->port('S'));

# when the last admin call was answered: the freshness contract counts from
# there (the balancers poll the Redis epoch twice a second)
my $answered;
sub api { my $r = OxAdmin::api($ng, @_); $answered = time; return $r }

my $alice = 'alice@ctx1.example.com';     # schema 1
my $bob = 'bob@ctx4.example.com';         # schema 2

# the answer code of a login: "old cluster", "new cluster" or the OX code
sub answer {
    my ($port, $user) = @_;
    my $r = login(port => $port, user => $user);
    return $r->{body} =~ /^(old|new) cluster$/ ? "$1 cluster"
         : (OxTest::json($r->{body}) // {})->{code} // "?$r->{status}";
}

# Both balancers must answer as expected within 1 s of the change: of the
# admin call's answer, or of the moment $since (epoch seconds) given.
sub both_within {
    my ($user, $want_p, $want_s, $name, $since) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $since //= $answered;
    my ($p, $s, $at);
    OxTest::wait_for(sub {
        $p = answer($P, $user);
        $s = answer($S, $user);
        $at = time;
        return $p eq $want_p && $s eq $want_s;
    }, 1.0 - (time - $since), 0.05);
    my $ms = int(($at - $since) * 1000);
    ok($p eq $want_p && $s eq $want_s && $ms <= 1000,
       "$name ($ms ms after the change)")
        or diag "primary: $p, secondary: $s, after $ms ms";
}

# ------------------------------------------------ before

pass_ok(login(port => $P, user => $alice), 'old cluster',
        'before: alice logs in on the old cluster');
oxerror_ok(login(port => $S, user => $alice), 'CTX-0012', [1, 2],
           'before: the secondary answers CTX-0012 for alice');
# the caches of both balancers now hold alice's context for 60 s

# ------------------------------------------------ steps 3 to 7 by hand

my $r = api(GET => 'servers');
is_deeply([ map { $_->{name} } @{ $r->{json}{servers} } ],
          [ 'oxserver-old', 'oxserver-xyz' ],
          'step 3: oxserver-xyz is registered (id 8)');

$r = api(POST => "schemas/$s1/disable");
is($r->{json}{contexts}, 3, "step 4: disableschema $s1");
both_within($alice, 'CTX-0007', 'CTX-0007',
            'after disable both balancers answer maintenance');
oxerror_ok(login(port => $P, user => $alice), 'CTX-0007', undef,
           'CTX-0007 exactly');

$r = api(POST => "schemas/$s1/changeserver", json => { server_id => 8 });
is($r->{status}, 200, 'step 5: changeserver -s 8');
both_within($alice, 'CTX-0007', 'CTX-0007',
            'still maintenance while disabled');

$r = api(POST => "schemas/$s1/update");
is($r->{status}, 200, 'step 6: runupdate');
is(scalar @{ $r->{json}{failed} }, 0, 'without failures');

$r = api(POST => "schemas/$s1/enable");
is($r->{json}{contexts}, 3, 'step 7: enableschema');
both_within($alice, 'LGI-0016', 'new cluster',
            'after enable: primary redirects, secondary passes');
oxerror_ok(login(port => $P, user => $alice), 'LGI-0016', [$URL],
           'LGI-0016 with the secondary URL');
pass_ok(login(port => $S, user => $alice), 'new cluster',
        'alice logs in on the new cluster');

oxerror_ok(login(port => $S, user => $bob), 'CTX-0012', [4, 2],
           'bob, whose schema is not moved yet, gets CTX-0012 on the'
           . ' secondary');
pass_ok(login(port => $P, user => $bob), 'old cluster',
        'and logs in on the old cluster');

# ------------------------------------------------ upgradeschemata

$r = api(POST => 'upgrade', json => { server => 'oxserver-xyz',
                                      continue => JSON::PP::true });
is($r->{status}, 202, 'POST /upgrade does the rest');
my $job = OxAdmin::wait_job($ng, $r->{json}{job});
is($job->{state}, 'done', 'job done');
is_deeply([ map { $_->{name} } @{ $job->{schemas} } ], [$s2],
          'only the schema not moved yet');
ok(defined $job->{schemas}[0]{downtime_ms},
   "downtime of $s2: $job->{schemas}[0]{downtime_ms} ms");

# a job's enable has no answer of its own: count from its commit
my $enabled_at = $db->value("SELECT enabled_at FROM oxmigrate_job_schema"
                            . " WHERE job_id = $job->{id} AND name = '$s2'");
ok($enabled_at, "the job enabled $s2");
both_within($bob, 'LGI-0016', 'new cluster',
            'bob: primary redirects, secondary passes',
            ($enabled_at // 0) / 1000);

$r = api(GET => 'schemas');
is_deeply([ map { [ $_->{name}, $_->{server_ids}, $_->{enabled},
                    $_->{status} ] } @{ $r->{json}{schemas} } ],
          [ [ $s1, [8], 3, 'ok' ], [ $s2, [8], 3, 'ok' ] ],
          'every schema on oxserver-xyz, enabled, updated');

ok(($redis->cmd('GET', 'oxmigrate:epoch') // 0) >= 5,
   'the epoch was bumped for every routing change');

$ng2->stop;
$ng->stop;
done_testing();
