#!/usr/bin/perl
# Freshness.  With shared memory and Redis caching the decisions, a
# configdb change followed by the documented invalidation (INCR
# <prefix>epoch in Redis) is served by every worker of every balancer that
# shares the Redis within 1 s.  Without the invalidation the cached answer
# stays (that is what the cache is for).  Unknown contexts are cached
# negatively for negative_ttl: a row inserted afterwards is seen only after
# that.  Without Redis an entry lives at most the ttl of oxmigrate_cache.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use OxTest qw(login oxerror_ok pass_ok);

my $db = OxTest::db('freshness');
$db->load('demo.sql');
my $redis = OxTest::redis();

my $URL = 'https://upgrade.example.com/';
my $conf = OxTest::standins() . <<"EOF";
    @{[ $db->directive ]}
    %%REDIS%%
    oxmigrate_cache zone=oxt_fresh:1m ttl=%%TTL%% negative_ttl=2s;
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            add_header X-Cache \$oxmigrate_cache always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_S%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            add_header X-Cache \$oxmigrate_cache always;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }
    }
EOF
# "within 1 s", measured from the INCR to the moment every worker of both
# balancers answers the new way (the epoch is polled every 0.5 s).
my $WITHIN = 1.0;

my %with_redis = (
    REDIS => 'oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%% ttl=300s;',
    TTL => '60s',
);
# two balancers sharing one Redis, two workers each
my $ng1 = OxTest::nginx($conf, db => $db, redis => $redis, workers => 2,
                        vars => \%with_redis);
my $ng2 = OxTest::nginx($conf, db => $db, redis => $redis, workers => 2,
                        vars => \%with_redis);
my @P = ($ng1->port('P'), $ng2->port('P'));
my @S = ($ng1->port('S'), $ng2->port('S'));

# what a balancer answers for a user right now: pass-old, pass-new,
# LGI-0016, CTX-0012, CTX-0007, or the status
sub answer {
    my ($port, $user) = @_;
    my $r = login(port => $port, user => $user);
    return 'pass-old' if $r->{body} eq "old cluster\n";
    return 'pass-new' if $r->{body} eq "new cluster\n";
    my $j = OxTest::json($r->{body});
    return $j->{code} if $j && $j->{code};
    return "status $r->{status}";
}

# Asks all ports (several times, to reach every worker) until all answer
# $want; returns the seconds it took, or undef after $max seconds.
sub until_all {
    my ($want, $user, $max, @ports) = @_;
    my $t0 = time;
    while (time - $t0 < $max) {
        my @a = map { my $p = $_; map { answer($p, $user) } 1 .. 6 } @ports;
        return time - $t0 unless grep { $_ ne $want } @a;
        sleep 0.02;
    }
    return undef;
}

sub all_now {
    my ($want, $user, @ports) = @_;
    my @a = map { my $p = $_; map { answer($p, $user) } 1 .. 6 } @ports;
    my @other = grep { $_ ne $want } @a;
    return @other ? "@other" : '';
}

# warm every layer: both balancers have the Redis connection and the
# answers cached
for my $k (qw(ctx1 ctx2 ctx3 ctx4 ctx5 ctx6)) {
    OxTest::wait_for(sub {
        answer($_, "u\@$k.example.com") for @P, @S;
        ($redis->cmd('EXISTS', "oxmigrate:v0:$k.example.com") // 0) == 1;
    }, 5) or diag "$k not in Redis";
}
is(all_now('pass-old', 'a@ctx1.example.com', @P), '',
   'primaries: ctx1 passes');
is(all_now('CTX-0012', 'a@ctx1.example.com', @S), '',
   'secondaries: ctx1 CTX-0012');

# --- the walkthrough's steps, each: configdb change, INCR, within 1 s

# disableschema oxdatabase_5 (ctx1..3)
$db->do(q{UPDATE context c JOIN context_server2db_pool p USING (cid)
          SET c.enabled = 0, c.reason_id = 1431655765
          WHERE p.db_schema = 'oxdatabase_5' AND c.enabled = 1});
sleep 1.2;
is(all_now('pass-old', 'a@ctx1.example.com', @P), '',
   'configdb changed, no invalidation: the cached answer stays');
$redis->cmd('INCR', 'oxmigrate:epoch');
my $t = until_all('CTX-0007', 'a@ctx1.example.com', 3, @P, @S);
ok(defined $t && $t <= $WITHIN,
   sprintf('disable + INCR epoch: maintenance on both balancers, all '
           . 'workers, after %s s', defined $t ? sprintf('%.2f', $t) : '>3'));

# changeserver to 8: still maintenance (no invalidation needed, but done)
$db->do(q{UPDATE context_server2db_pool SET server_id = 8
          WHERE db_schema = 'oxdatabase_5'});
$redis->cmd('INCR', 'oxmigrate:epoch');
sleep 1.1;
is(all_now('CTX-0007', 'a@ctx1.example.com', @P, @S), '',
   'changeserver: still maintenance everywhere');

# enableschema: primary redirects, secondary passes
$db->do(q{UPDATE context c JOIN context_server2db_pool p USING (cid)
          SET c.enabled = 1, c.reason_id = NULL
          WHERE p.db_schema = 'oxdatabase_5'
            AND c.reason_id = 1431655765});
$redis->cmd('INCR', 'oxmigrate:epoch');
my $t1 = until_all('LGI-0016', 'a@ctx1.example.com', 3, @P);
my $t2 = until_all('pass-new', 'a@ctx1.example.com', 3, @S);
ok(defined $t1 && defined $t2 && $t1 + $t2 <= $WITHIN,
   sprintf('enable + INCR epoch: primaries LGI-0016 after %s s, '
           . 'secondaries pass after %s s more',
           map { defined $_ ? sprintf('%.2f', $_) : '>3' } $t1, $t2));
# a user of a schema not yet moved
is(all_now('CTX-0012', 'f@ctx6.example.com', @S), '',
   'a schema not moved yet: CTX-0012 on the secondaries');
is(all_now('pass-old', 'f@ctx6.example.com', @P), '',
   'a schema not moved yet: passes on the primaries');

# --- negative caching
my $new = 'n' . int(rand 1e6) . '.example.com';
is(all_now('pass-old', "x\@$new", @P), '', "$new is unknown");
$db->do("INSERT INTO login2context VALUES (4, '$new')");   # ctx4: server 2
$db->do("UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4");
my $t0 = time;
is(answer($P[0], "x\@$new"), 'pass-old',
   'a row inserted after the lookup is not seen at once (negative cache)');
my $seen = OxTest::wait_for(sub { answer($P[0], "x\@$new") eq 'LGI-0016' },
                            5, 0.05);
my $dt = time - $t0;
ok($seen && $dt <= 3.0,
   sprintf('... it is seen after negative_ttl (2 s): %.2f s', $dt));
ok($dt >= 0.5, '... and not much earlier') if $seen;

# negative entries are dropped by the invalidation too
my $new2 = 'm' . int(rand 1e6) . '.example.com';
is(answer($P[0], "x\@$new2"), 'pass-old', "$new2 is unknown");
$db->do("INSERT INTO login2context VALUES (4, '$new2')");
$redis->cmd('INCR', 'oxmigrate:epoch');
$t = until_all('LGI-0016', "x\@$new2", 3, $P[0]);
ok(defined $t && $t <= $WITHIN,
   sprintf('INCR epoch drops negative entries: %s s',
           defined $t ? sprintf('%.2f', $t) : '>3'));

$ng1->stop;
$ng2->stop;

# --- without Redis: at most the ttl of oxmigrate_cache
my $ng3 = OxTest::nginx($conf, db => $db, workers => 2,
                        vars => { REDIS => '', TTL => '2s' });
my $P3 = $ng3->port('P');
is(answer($P3, 'a@ctx2.example.com'), 'LGI-0016', 'no Redis: ctx2 moved');
$db->do('UPDATE context_server2db_pool SET server_id = 2 WHERE cid = 2');
$t0 = time;
is(answer($P3, 'a@ctx2.example.com'), 'LGI-0016',
   'no Redis: cached in shared memory');
$t = until_all('pass-old', 'a@ctx2.example.com', 5, $P3);
ok(defined $t && time - $t0 <= 2.5,
   sprintf('no Redis: the change is served after the ttl (2 s): %.2f s',
           time - $t0));
$ng3->stop;

done_testing;
