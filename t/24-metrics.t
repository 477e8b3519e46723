#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# oxmigrate_metrics (issue 10, the router's part): Prometheus text from
# counters in shared memory, added to by every worker and printed by any;
# decisions, lookups by tier with their duration histogram, backend errors
# and up gauges, cache entries; no label carries a cid, a login or a schema.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64 qw(encode_base64);
use Test::More;
use OxTest qw(login);

my $db = OxTest::db('metrics');
$db->load('demo.sql');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');
$db->do('UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = 5');

my $conf = OxTest::standins() . <<"EOF";
    %%DB%%
    oxmigrate_cache zone=oxt_metrics:1m ttl=60s;
    server {
        # reuseport: the kernel spreads the connections over both workers
        listen 127.0.0.1:%%PORT_P%% reuseport;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_identify login basic;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            add_header X-Pid \$pid always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location = /metrics {
            oxmigrate_metrics;
        }
    }
EOF
my $ng = OxTest::nginx($conf, db => $db, workers => 2,
                       vars => { DB => $db->directive });
my $P = $ng->port('P');

sub scrape {
    my ($port) = @_;
    my $r = OxTest::http(GET => '/metrics', port => $port);
    my %v;
    for (split /\n/, $r->{body}) {
        next if /^#/;
        $v{$1} = $2 if /^(\S+) (\S+)$/;
    }
    return ($r, \%v);
}

my %pids;
my @users = (('a@ctx1.example.com') x 10, ('b@ctx4.example.com') x 6,
             ('c@ctx5.example.com') x 3, ('d@nosuch.example.com') x 2);
for my $u (@users) {
    my $r = login(port => $P, user => $u);
    $pids{ $r->{headers}{'x-pid'} // 0 }++;
}
OxTest::http(PROPFIND => '/ajax/dav/', port => $P, headers => {
    Authorization => 'Basic ' . encode_base64('x@ctx4.example.com:pw', '') });
my $both = keys %pids;

my ($r, $v) = scrape($P);
is($r->{status}, 200, 'GET /metrics: 200');
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4', 'Prometheus text format');
my @bad = grep { !/^#/ && !/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.]+$/ }
          split /\n/, $r->{body};
is_deeply(\@bad, [], 'every sample line is well formed');
unlike($r->{body}, qr/ctx\d+\.|example\.com|oxdatabase|nosuch/,
       'no label with a login, a context or a schema');

is($v->{'oxmigrate_login_decisions_total{decision="pass"}'}, 10, '10 pass');
is($v->{'oxmigrate_login_decisions_total{decision="redirect"}'}, 7,
   '7 redirect (6 logins + 1 DAV request)');
is($v->{'oxmigrate_login_decisions_total{decision="maintenance"}'}, 3, '3 maintenance');
is($v->{'oxmigrate_login_decisions_total{decision="unknown"}'}, 2, '2 unknown');
is($v->{'oxmigrate_requests_identified_total{by="basic"}'}, 1, '1 identified by Basic');
is($v->{'oxmigrate_requests_identified_total{by="login"}'}, scalar @users, 'the logins');
my $lookups = $v->{'oxmigrate_lookups_total{source="shm"}'}
              + $v->{'oxmigrate_lookups_total{source="db"}'};
is($lookups, scalar(@users) + 1, 'every lookup counted once (shm + db)');
ok($v->{'oxmigrate_lookups_total{source="db"}'} >= 4
   && $v->{'oxmigrate_lookups_total{source="db"}'} <= 8,
   'a db lookup per name and worker at most ('
   . $v->{'oxmigrate_lookups_total{source="db"}'} . ')');
is($v->{'oxmigrate_lookup_duration_seconds_count{source="db"}'},
   $v->{'oxmigrate_lookups_total{source="db"}'}, 'the histogram counts them');
is($v->{'oxmigrate_lookup_duration_seconds_bucket{source="db",le="+Inf"}'},
   $v->{'oxmigrate_lookups_total{source="db"}'}, '... +Inf bucket = count');
is($v->{'oxmigrate_cache_entries'}, 4, '4 cache entries (3 contexts + 1 unknown)');
is($v->{'oxmigrate_configdb_up'}, 1, 'configdb up');
my ($version) = OxTest::_slurp(OxTest::root() . '/debian/changelog') =~ /\((.*?)\)/;
ok(exists $v->{qq'oxmigrate_build_info{version="$version",nginx="1.22.1"}'},
   "build_info: debian/changelog's version $version");
is($both, 2, 'the requests reached both workers (reuseport)');
my %seen;
for (1 .. 20) {
    my ($x) = scrape($P);
    my ($pass) = $x->{body} =~ /decision="pass"\} (\d+)/;
    $seen{$pass}++;
}
is_deeply([keys %seen], [10], 'both workers counted into one number, any prints it');

# contrib/: the dashboard is JSON, and every metric it and the alert rules
# name is one the module prints
use JSON::PP ();
my $root = OxTest::root();
my $dash = OxTest::_slurp("$root/contrib/grafana-dashboard.json");
ok(eval { JSON::PP::decode_json($dash) }, 'contrib/grafana-dashboard.json is JSON');
my @ids = map { $_->{id} } @{ JSON::PP::decode_json($dash)->{panels} };
my %uniq = map { defined $_ ? ($_ => 1) : () } @ids;
is(scalar(keys %uniq), scalar(@ids), 'every panel of the dashboard has an id of its own');
my $rules = OxTest::_slurp("$root/contrib/prometheus-alerts.yml");

# a router-only balancer (no oxmigrate_admin on) prints no admin metric
# (issue 19); with the admin API in the same nginx, it prints them too
unlike($r->{body}, qr/^(# TYPE )?oxmigrate_(admin|job|update|schema_downtime)/m,
       'router only: no admin API metric');
my $ng_adm = OxTest::nginx(OxTest::standins() . <<"EOF", db => $db,
    %%DB%%
    server {
        listen 127.0.0.1:%%PORT_A%%;
        location /oxmigrate/v1/ { oxmigrate_admin on; }
        location = /metrics { oxmigrate_metrics; }
    }
EOF
                           vars => { DB => $db->directive });
my $adm_body = OxTest::http(GET => '/metrics', port => $ng_adm->port('A'))->{body};
like($adm_body, qr/^# TYPE oxmigrate_job_schemas gauge$/m, 'with oxmigrate_admin on: the job metrics');
like($adm_body, qr/^# TYPE oxmigrate_update_lock_scan_timestamp_seconds gauge$/m, '... the update-lock metrics');
like($adm_body, qr/^# TYPE oxmigrate_login_decisions_total counter$/m, '... and the router\'s');

# the admin API's own event-loop time (issue 18): each call's pieces are
# counted (two calls without credentials: their handler answers 401)
OxTest::http(GET => '/oxmigrate/v1/servers', port => $ng_adm->port('A'))
    for 1 .. 2;
my $loop = OxTest::http(GET => '/metrics', port => $ng_adm->port('A'))->{body};
my ($lc) = $loop =~ /^oxmigrate_admin_event_loop_seconds_count (\d+)$/m;
my ($linf) = $loop =~ /^oxmigrate_admin_event_loop_seconds_bucket\{le="\+Inf"\} (\d+)$/m;
ok(defined $lc && $lc >= 2, 'oxmigrate_admin_event_loop_seconds counts the calls\' pieces ('
   . ($lc // 'none') . ')');
is($linf, $lc, '... every piece in the histogram');
like($loop, qr/^oxmigrate_admin_event_loop_max_seconds \d+\.\d{6}$/m, '... and the longest one');

my %printed = map { /^(?:# TYPE )?(oxmigrate_[a-z_]+)/ ? ($1 => 1) : () }
              split /\n/, $r->{body} . $adm_body;
# an expr: line and the more indented lines under it (">-" blocks)
my @rexprs;
my $indent;
for (split /\n/, $rules) {
    if (/^(\s*)expr:\s*(.*)$/) {
        ($indent, $_) = (length $1, $2);
        push @rexprs, $_;
    } elsif (defined $indent && /^(\s*)\S/ && length($1) > $indent) {
        $rexprs[-1] .= " $_";
    } else {
        undef $indent;
    }
}
my @exprs = ((map { @{ $_->{targets} } } @{ JSON::PP::decode_json($dash)->{panels} }),
             map { { expr => $_ } } @rexprs);
my %u;
for my $e (map { $_->{expr} } @exprs) {
    for my $name ($e =~ /\b(oxmigrate_[a-z_]+)/g) {
        (my $base = $name) =~ s/_(bucket|sum|count)$//;
        $u{$name} = 1 unless $printed{$name} || $printed{$base . '_bucket'};
    }
}
ok(@exprs >= 10, scalar(@exprs) . ' expressions in contrib/');
is_deeply([sort keys %u], [], 'contrib names only metrics the module prints');

# a configdb that is down
my $dead = OxTest::free_port();
my $ng2 = OxTest::nginx(OxTest::standins() . <<"EOF", workers => 1);
    oxmigrate_db host=127.0.0.1 port=$dead user=root password= database=x
                 connect_timeout=300ms timeout=300ms;
    server {
        listen 127.0.0.1:%%PORT_E%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location = /metrics { oxmigrate_metrics; }
    }
EOF
login(port => $ng2->port('E'), user => 'a@ctx1.example.com') for 1 .. 3;
my (undef, $w) = scrape($ng2->port('E'));
is($w->{'oxmigrate_configdb_up'}, 0, 'configdb down: configdb_up 0');
ok($w->{'oxmigrate_backend_errors_total{backend="configdb",kind="connect"}'} >= 1,
   'connect errors counted');
is($w->{'oxmigrate_login_decisions_total{decision="error"}'}, 3, '3 error decisions');
ok(!exists $w->{'oxmigrate_cache_entries'}, 'no cache zone: no cache metrics');

$ng2->stop;
$ng->stop;

# the Redis tier, then Redis killed; a private MariaDB frozen (SIGSTOP):
# query timeouts, and stale= answers from the last known entries
my $priv = OxTest::mariadb_private();
my $pdb = $priv->db('metrics_priv');
$pdb->load('demo.sql');
my $redis = OxTest::redis();
# the shm ttl runs out on the tests' clock (oxmigrate_test_clock), moved on
my $clock = OxTest::test_clock();
my $ng3 = OxTest::nginx(OxTest::standins() . $clock->directive
                        . <<"EOF", workers => 1);
    @{[ $pdb->directive ]}
    oxmigrate_redis host=127.0.0.1 port=@{[ $redis->port ]} timeout=200ms;
    oxmigrate_cache zone=oxt_metrics3:1m ttl=60s stale=600s;
    server {
        listen 127.0.0.1:%%PORT_T%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location = /metrics { oxmigrate_metrics; }
    }
EOF
my $T = $ng3->port('T');
# the worker connects to Redis after it started: a login before that is
# not stored there (slow machines, ASan)
OxTest::wait_for(sub { ((scrape($T))[1]{'oxmigrate_redis_up'} // 0) == 1 }, 10)
    or diag 'Redis not connected after 10 s';
login(port => $T, user => 'a@ctx1.example.com');      # db, stored in Redis
$clock->advance(61, $ng3);                              # shm ttl over
login(port => $T, user => 'a@ctx1.example.com');      # from Redis
(undef, $w) = scrape($T);
is($w->{'oxmigrate_lookups_total{source="db"}'}, 1, 'the first lookup from configdb');
is($w->{'oxmigrate_lookups_total{source="redis"}'}, 1, 'the second from Redis (shm expired)');
is($w->{'oxmigrate_redis_up'}, 1, 'redis_up 1');

$redis->stop;
$clock->advance(61, $ng3);
login(port => $T, user => 'a@ctx1.example.com');
(undef, $w) = scrape($T);
is($w->{'oxmigrate_redis_up'}, 0, 'Redis killed: redis_up 0');
my $rerr = 0;
$rerr += $w->{"oxmigrate_backend_errors_total{backend=\"redis\",kind=\"$_\"}"} // 0
    for qw(connect query timeout);
ok($rerr >= 1, "... Redis errors counted ($rerr)");
is($w->{'oxmigrate_lookups_total{source="db"}'}, 2, '... the login asked configdb');

$priv->sigstop;
$clock->advance(61, $ng3);                              # stale=, not gone
my $t = login(port => $T, user => 'a@ctx1.example.com');
(undef, $w) = scrape($T);
$priv->sigcont;
is($t->{body}, "old cluster\n", 'configdb frozen: the last known entry answers (stale=)');
is($w->{'oxmigrate_lookups_total{source="stale"}'}, 1, '... counted as source "stale"');
ok(($w->{'oxmigrate_backend_errors_total{backend="configdb",kind="timeout"}'} // 0) >= 1,
   '... and the configdb query timeout counted');
is($w->{'oxmigrate_configdb_up'}, 0, '... configdb_up 0');
$ng3->stop;

done_testing;
