#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
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

# the invalidation README documents (the admin API and operators use it)
my $readme = OxTest::_slurp(OxTest::root() . '/README.md') // '';
my ($EPOCH) = $readme =~ /redis-cli\b[^\n]*\bINCR\s+(\S+)/;
is($EPOCH, 'oxmigrate:epoch', 'README documents `redis-cli ... INCR '
                              . 'oxmigrate:epoch`');
$EPOCH //= 'oxmigrate:epoch';

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
            add_header X-Pid \$pid always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_S%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            add_header X-Cache \$oxmigrate_cache always;
            add_header X-Pid \$pid always;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }
    }
EOF
# "within 1 s": from the INCR, every worker of both balancers answers the
# new way (the epoch is polled every 0.5 s).  Checked by asking every
# worker once 1 s has passed: a slow machine makes the requests slower,
# not the check stricter.
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
my @P = ([$ng1, 'P'], [$ng2, 'P']);
my @S = ([$ng1, 'S'], [$ng2, 'S']);

# what a balancer answers for a user right now: pass-old, pass-new,
# LGI-0016, CTX-0012, CTX-0007, or the status; and the worker's pid
sub answer {
    my ($port, $user) = @_;
    my $r = login(port => $port, user => $user);
    my $pid = $r->{headers}{'x-pid'} // 0;
    return ('pass-old', $pid) if $r->{body} eq "old cluster\n";
    return ('pass-new', $pid) if $r->{body} eq "new cluster\n";
    my $j = OxTest::json($r->{body});
    return ($j->{code}, $pid) if $j && $j->{code};
    return ("status $r->{status}", $pid);
}

# Asks each balancer until every one of its workers has answered (up to
# 60 requests); returns '' when all answered $want, else what differed.
sub everyone {
    my ($want, $user, @targets) = @_;
    my @why;
    for my $t (@targets) {
        my ($ng, $name) = @$t;
        my %left = map { $_ => 1 } $ng->worker_pids;
        push @why, "$name: no workers" unless %left;
        my $n = 0;
        while (%left && $n++ < 60) {
            my ($a, $pid) = answer($ng->port($name), $user);
            delete $left{$pid};
            push @why, "$name:$pid $a" if $a ne $want;
        }
        push @why, "$name: worker $_ not reached" for sort keys %left;
    }
    return join ', ', @why;
}

# Asks all balancers until every answer is $want or $max seconds passed;
# returns the seconds it took, or undef.
sub until_all {
    my ($want, $user, $max, @targets) = @_;
    my $t0 = time;
    while (time - $t0 < $max) {
        my @a = map { my $t = $_;
                      map { (answer($t->[0]->port($t->[1]), $user))[0] } 1 .. 4
                    } @targets;
        return time - $t0 unless grep { $_ ne $want } @a;
        sleep 0.02;
    }
    return undef;
}

# After the INCR at $t_incr: once $WITHIN has passed, every worker of the
# balancers must answer the new way.  @checks: [want, user, [targets]].
sub fresh_ok {
    my ($t_incr, $name, @checks) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    # how soon the first check switched: for the test's name only
    my $seen = until_all($checks[0][0], $checks[0][1],
                         $WITHIN - (time - $t_incr), @{ $checks[0][2] });
    my $left = $t_incr + $WITHIN - time;
    sleep $left if $left > 0;
    my $at = time - $t_incr;
    my $why = join '; ', grep { $_ ne '' }
                         map { everyone($_->[0], $_->[1], @{ $_->[2] }) }
                         @checks;
    is($why, '', sprintf('%s: every worker answers the new way %.2f s after '
                         . 'the INCR (the first balancer switched %s)',
                         $name, $at, defined $seen
                         ? sprintf('after %.2f s', $seen) : 'later'));
}

# warm every layer: both balancers have the Redis connection and the
# answers cached
for my $k (qw(ctx1 ctx2 ctx3 ctx4 ctx5 ctx6)) {
    OxTest::wait_for(sub {
        answer($_->[0]->port($_->[1]), "u\@$k.example.com") for @P, @S;
        ($redis->cmd('EXISTS', "oxmigrate:v0:$k.example.com") // 0) == 1;
    }, 5) or diag "$k not in Redis";
}
is(everyone('pass-old', 'a@ctx1.example.com', @P), '',
   'primaries: ctx1 passes');
is(everyone('CTX-0012', 'a@ctx1.example.com', @S), '',
   'secondaries: ctx1 CTX-0012');

# --- the walkthrough's steps, each: configdb change, INCR, within 1 s

# disableschema oxdatabase_5 (ctx1..3)
$db->do(q{UPDATE context c JOIN context_server2db_pool p USING (cid)
          SET c.enabled = 0, c.reason_id = 1431655765
          WHERE p.db_schema = 'oxdatabase_5' AND c.enabled = 1});
sleep 1.2;
is(everyone('pass-old', 'a@ctx1.example.com', @P), '',
   'configdb changed, no invalidation: the cached answer stays');
$redis->cmd('INCR', $EPOCH);
fresh_ok(time, 'disable + INCR epoch',
         ['CTX-0007', 'a@ctx1.example.com', [@P, @S]]);

# changeserver to 8: still maintenance (no invalidation needed, but done)
$db->do(q{UPDATE context_server2db_pool SET server_id = 8
          WHERE db_schema = 'oxdatabase_5'});
$redis->cmd('INCR', $EPOCH);
sleep 1.1;
is(everyone('CTX-0007', 'a@ctx1.example.com', @P, @S), '',
   'changeserver: still maintenance everywhere');

# enableschema: primary redirects, secondary passes
$db->do(q{UPDATE context c JOIN context_server2db_pool p USING (cid)
          SET c.enabled = 1, c.reason_id = NULL
          WHERE p.db_schema = 'oxdatabase_5'
            AND c.reason_id = 1431655765});
$redis->cmd('INCR', $EPOCH);
fresh_ok(time, 'enable + INCR epoch',
         ['LGI-0016', 'a@ctx1.example.com', \@P],
         ['pass-new', 'a@ctx1.example.com', \@S]);
# a user of a schema not yet moved
is(everyone('CTX-0012', 'f@ctx6.example.com', @S), '',
   'a schema not moved yet: CTX-0012 on the secondaries');
is(everyone('pass-old', 'f@ctx6.example.com', @P), '',
   'a schema not moved yet: passes on the primaries');

# The epoch is polled: one change may come just before a poll and switch
# early by luck (all workers started together poll nearly together).  More
# rounds at other moments of the poll cycle, each within 1 s: oxdatabase_6
# (ctx4..6) moved back and forth.
for my $round (1 .. 4) {
    sleep rand 0.5;
    my $to = $round % 2 ? 8 : 2;
    $db->do("UPDATE context_server2db_pool SET server_id = $to
             WHERE db_schema = 'oxdatabase_6'");
    $redis->cmd('INCR', $EPOCH);
    fresh_ok(time, "round $round: changeserver oxdatabase_6 to $to + INCR",
             [$to == 8 ? 'LGI-0016' : 'pass-old', 'f@ctx6.example.com', \@P],
             [$to == 8 ? 'pass-new' : 'CTX-0012', 'f@ctx6.example.com', \@S]);
}

# --- negative caching
my $new = 'n' . int(rand 1e6) . '.example.com';
my $c0 = time;      # the negative entry is made after this
is(everyone('pass-old', "x\@$new", @P), '', "$new is unknown");
$db->do("INSERT INTO login2context VALUES (4, '$new')");   # ctx4: server 2
$db->do("UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4");
is((answer($P[0][0]->port('P'), "x\@$new"))[0], 'pass-old',
   'a row inserted after the lookup is not seen at once (negative cache)');
my $seen = OxTest::wait_for(sub {
    (answer($P[0][0]->port('P'), "x\@$new"))[0] eq 'LGI-0016'
}, 5, 0.05);
my $dt = time - $c0;
ok($seen && $dt <= 3.0,
   sprintf('... it is seen after negative_ttl (2 s): %.2f s', $dt));
ok($dt >= 1.9, sprintf('... and not before (%.2f s)', $dt)) if $seen;

# negative entries are dropped by the invalidation too
my $new2 = 'm' . int(rand 1e6) . '.example.com';
is(everyone('pass-old', "x\@$new2", @P), '', "$new2 is unknown");
$db->do("INSERT INTO login2context VALUES (4, '$new2')");
$redis->cmd('INCR', $EPOCH);
fresh_ok(time, 'INCR epoch drops negative entries',
         ['LGI-0016', "x\@$new2", \@P]);

$ng1->stop;
$ng2->stop;

# --- without Redis: at most the ttl of oxmigrate_cache
my $ng3 = OxTest::nginx($conf, db => $db, workers => 2,
                        vars => { REDIS => '', TTL => '2s' });
my $t0 = time;      # the entry is made after this
is(everyone('LGI-0016', 'a@ctx2.example.com', [$ng3, 'P']), '',
   'no Redis: ctx2 moved');
$db->do('UPDATE context_server2db_pool SET server_id = 2 WHERE cid = 2');
is(everyone('LGI-0016', 'a@ctx2.example.com', [$ng3, 'P']), '',
   'no Redis: cached in shared memory');
my $t = until_all('pass-old', 'a@ctx2.example.com', 5, [$ng3, 'P']);
$dt = time - $t0;
ok(defined $t && $dt <= 2.5,
   sprintf('no Redis: the change is served after the ttl (2 s): %.2f s',
           $dt));
$ng3->stop;

done_testing;
