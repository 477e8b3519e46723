#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# $oxmigrate_context_id, $oxmigrate_server_id, $oxmigrate_schema,
# $oxmigrate_decision and $oxmigrate_cache: in a log_format, in headers,
# and in map + proxy_pass, which routes logins transparently without any
# redirect.  Also where the cache answers from (shm, redis, db) and the
# documented Redis key layout <prefix>v<epoch>:<context part>.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest qw(login oxerror_ok pass_ok redirect_ok);

my $db = OxTest::db('variables');
$db->load('demo.sql');
$db->do(q{
    UPDATE context_server2db_pool SET server_id = 8, db_schema = 'oxdatabase_6'
        WHERE cid = 4;
    UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = 2;
});
my $redis = OxTest::redis();

my $http = OxTest::standins() . <<"EOF";
    @{[ $db->directive ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%% timeout=500ms;
    oxmigrate_cache zone=oxt_vars:1m ttl=30s negative_ttl=30s;

    log_format oxm '\$request_uri|\$status|\$oxmigrate_context_id|'
                   '\$oxmigrate_server_id|\$oxmigrate_schema|'
                   '\$oxmigrate_decision|\$oxmigrate_cache';

    map \$oxmigrate_server_id \$ox_cluster {
        default  old;
        8        new;
    }
    upstream old { server 127.0.0.1:%%PORT_OLD%%; }
    upstream new { server 127.0.0.1:%%PORT_NEW%%; }

    server {
        listen 127.0.0.1:%%PORT_P%%;
        access_log %%TMP%%/oxm.log oxm;

        # transparent routing: both servers pass, the map picks the cluster
        location /route/ {
            oxmigrate on;
            oxmigrate_server oxserver-old oxserver-xyz;
            proxy_pass http://\$ox_cluster;
        }

        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            add_header X-Decision \$oxmigrate_decision always;
            add_header X-Cid \$oxmigrate_context_id always;
            add_header X-Sid \$oxmigrate_server_id always;
            add_header X-Schema \$oxmigrate_schema always;
            add_header X-Cache \$oxmigrate_cache always;
            proxy_pass http://old;
        }

        # the variables handed to the backend
        location /hdr/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_maintenance off;
            proxy_set_header X-Oxmigrate "\$oxmigrate_decision \$oxmigrate_context_id";
            proxy_pass http://127.0.0.1:%%PORT_H%%;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_H%%;
        location / { return 200 "\$http_x_oxmigrate\\n"; }
    }
EOF

my $ng = OxTest::nginx($http, db => $db, redis => $redis);
my $P = $ng->port('P');

# A balancer's Redis connection is up once a lookup stores its answer
# there; each try uses another context part (the ones before are in shared
# memory then, and would not be written again).
sub redis_ready {
    my ($port, @keys) = @_;
    for my $k (@keys) {
        login(port => $port, user => "x\@$k");
        return 1 if OxTest::wait_for(sub {
            ($redis->cmd('EXISTS', "oxmigrate:v0:$k") // 0) == 1
        }, 0.5);
    }
    diag "Redis never got a key";
    return 0;
}
redis_ready($P, qw(ctx5 5 ctx5.example.com ctx6 6 ctx6.example.com));

# --- map + proxy_pass
pass_ok(login(port => $P, path => '/route/login', user => 'a@ctx1.example.com'),
        'old cluster', 'map: context on server 2 -> old cluster');
pass_ok(login(port => $P, path => '/route/login', user => 'd@ctx4.example.com'),
        'new cluster', 'map: context on server 8 -> new cluster');
pass_ok(login(port => $P, path => '/route/login', action => 'formlogin',
              user => 'd@ctx4.example.com'),
        'new cluster', 'map: formlogin too');
pass_ok(login(port => $P, path => '/route/login', method => 'GET',
              user => 'd@ctx4.example.com'),
        'new cluster', 'map: GET login too');
pass_ok(login(port => $P, path => '/route/login', user => 'u@unknown.example.com'),
        'old cluster', 'map: unknown context -> default');
pass_ok(OxTest::http(GET => '/route/x', port => $P), 'old cluster',
        'map: not a login -> default');

# --- headers
my $r = login(port => $P, user => 'a@ctx1.example.com');
pass_ok($r, 'old cluster', 'pass');
is($r->{headers}{'x-decision'}, 'pass', '$oxmigrate_decision pass');
is($r->{headers}{'x-cid'}, 1, '$oxmigrate_context_id');
is($r->{headers}{'x-sid'}, 2, '$oxmigrate_server_id');
is($r->{headers}{'x-schema'}, 'oxdatabase_5', '$oxmigrate_schema');
like($r->{headers}{'x-cache'} // '', qr/^(db|shm|redis)$/, '$oxmigrate_cache');

$r = login(port => $P, user => 'd@ctx4.example.com');
oxerror_ok($r, 'LGI-0016', ['https://upgrade.example.com/'], 'redirect');
is($r->{headers}{'x-decision'}, 'redirect', '$oxmigrate_decision redirect');
is($r->{headers}{'x-cid'}, 4, 'cid 4');
is($r->{headers}{'x-sid'}, 8, 'server 8');
is($r->{headers}{'x-schema'}, 'oxdatabase_6', 'schema oxdatabase_6');

$r = login(port => $P, user => 'c@ctx2.example.com');
oxerror_ok($r, 'CTX-0007', undef, 'maintenance');
is($r->{headers}{'x-decision'}, 'maintenance',
   '$oxmigrate_decision maintenance');

$r = login(port => $P, user => 'u@unknown.example.com');
is($r->{headers}{'x-decision'}, 'unknown', '$oxmigrate_decision unknown');
ok(!defined $r->{headers}{'x-cid'}, 'no context id for an unknown context');

$r = OxTest::http(GET => '/ajax/folders?action=list', port => $P);
ok(!defined $r->{headers}{'x-decision'}, 'no decision for a non-login');

is(OxTest::http(GET => '/hdr/login?action=login&name=c%40ctx2.example.com',
                port => $P)->{body}, "maintenance 2\n",
   'maintenance off: passes, the variable still says what configdb said');
is(OxTest::http(GET => '/hdr/login?action=login&name=a%40ctx1.example.com',
                port => $P)->{body}, "pass 1\n", 'variables to the backend');

# --- log_format, and where the answers came from
my $key = 'ctx3.example.com';
for (1 .. 2) {
    pass_ok(login(port => $P, user => "u\@$key"), 'old cluster',
            "login $_ for $key");
}
ok(OxTest::wait_for(sub {
    ($redis->cmd('GET', "oxmigrate:v0:$key") // '') ne ''
}, 2), "Redis key oxmigrate:v0:$key holds the answer");

# a second balancer with its own shared memory and the same Redis
my $ng2 = OxTest::nginx($http, db => $db, redis => $redis);
my $P2 = $ng2->port('P');
redis_ready($P2, qw(1 2 3 4 ctx1 ctx2 ctx3 ctx4));
# Context parts the first balancer stored in Redis and the second has not
# looked up: its answer comes from Redis.  (Under load a Redis answer may
# miss its 500 ms timeout and come from the db instead: then try the next.)
my $from = '';
for my $k ($key, qw(ctx5.example.com ctx6.example.com ctx5 ctx6 5 6)) {
    next unless ($redis->cmd('EXISTS', "oxmigrate:v0:$k") // 0) == 1;
    my $r = login(port => $P2, user => "u\@$k");
    $from = $k, last if ($r->{headers}{'x-cache'} // '') eq 'redis';
}
ok($from, "second balancer: answer from Redis ($from)");
# the access log is written after the answer is sent: give it a moment
my $log2 = '';
OxTest::wait_for(sub {
    $log2 = OxTest::_slurp($ng2->dir . '/oxm.log') // '';
    $log2 =~ /\|redis$/m;
}, 2);
like($log2, qr{^/ajax/login\?action=login\|200\|\d+\|2\|oxdatabase_\d\|pass\|redis$}m,
     'second balancer: logged as redis');

my $log = '';
OxTest::wait_for(sub {
    $log = OxTest::_slurp($ng->dir . '/oxm.log') // '';
    $log =~ m{^/hdr/login\?action=login&name=a%40ctx1}m;
}, 2);
my @lines = grep { /ctx|action/ } split /\n/, $log;
like($log, qr{^/ajax/login\?action=login\|200\|3\|2\|oxdatabase_5\|pass\|db$}m,
     'log: first login from the db');
like($log, qr{^/ajax/login\?action=login\|200\|3\|2\|oxdatabase_5\|pass\|shm$}m,
     'log: second login from shared memory');
like($log, qr{^/ajax/login\?action=login\|200\|4\|8\|oxdatabase_6\|redirect\|(db|shm|redis)$}m,
     'log: redirect');
like($log, qr{^/ajax/login\?action=login\|200\|2\|2\|oxdatabase_5\|maintenance\|(db|shm|redis)$}m,
     'log: maintenance');
like($log, qr{^/ajax/login\?action=login\|200\|-\|-\|-\|unknown\|(db|shm|redis)$}m,
     'log: unknown context');
like($log, qr{^/ajax/folders\?action=list\|200\|-\|-\|-\|-\|-$}m,
     'log: a non-login has no values');
like($log, qr{^/route/login\?action=login\|200\|4\|8\|oxdatabase_6\|pass\|}m,
     'log: transparent route');

$ng2->stop;
$ng->stop;
done_testing;
