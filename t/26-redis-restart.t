#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Redis restarted from a snapshot taken before a change, without the change
# log (issue 9, point 3): the epoch comes back older (7 -> 5) together with
# copies that predate the change.  The balancers move the epoch past the
# last one they saw, so no copy the snapshot brought back is ever read:
# every worker of two balancers keeps answering the new way.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use OxTest qw(login);

my $db = OxTest::db('redis_restart');
$db->load('demo.sql');
my $redis = OxTest::redis();

my $conf = OxTest::standins() . <<"EOF";
    @{[ $db->directive ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%% ttl=300s;
    oxmigrate_cache zone=oxt_rr:1m ttl=60s;
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            add_header X-Pid \$pid always;
            add_header X-Cache \$oxmigrate_cache always;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
EOF
my @ng = map { OxTest::nginx($conf, db => $db, redis => $redis, workers => 2) } 1 .. 2;

sub everyone {
    my ($want, $user) = @_;
    my @why;
    for my $ng (@ng) {
        my %left = map { $_ => 1 } $ng->worker_pids;
        my $n = 0;
        while (%left && $n++ < 80) {
            my $r = login(port => $ng->port('P'), user => $user);
            my $pid = $r->{headers}{'x-pid'} // 0;
            next unless delete $left{$pid};
            my $a = $r->{body} eq "old cluster\n" ? 'pass'
                  : (OxTest::json($r->{body}) // {})->{code} // "status $r->{status}";
            push @why, "$pid $a/" . ($r->{headers}{'x-cache'} // '-') if $a ne $want;
        }
        push @why, "worker $_ not reached" for sort keys %left;
    }
    return join ', ', @why;
}

$redis->cmd('SET', 'oxmigrate:epoch', '5');
sleep 1.2;
everyone('x', 'u@ctx6.example.com') for 1 .. 2;
is(everyone('pass', 'u@ctx6.example.com'), '', 'ctx6 passes everywhere (epoch 5)');
ok(scalar(grep { /^oxmigrate:v5:ctx6/ } $redis->cmd('KEYS', '*')),
   'its copy is in Redis under v5');
$redis->cmd('SAVE');

# the change, with the documented INCR (twice: 7)
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 6');
$redis->cmd('INCR', 'oxmigrate:epoch');
$redis->cmd('INCR', 'oxmigrate:epoch');
sleep 1.2;
is(everyone('LGI-0016', 'u@ctx6.example.com'), '', 'moved: LGI-0016 everywhere (epoch 7)');

# the workers wait while the test looks at the restarted Redis (else one
# may move the epoch on before the test has read it)
$_->sigstop_workers for @ng;
$redis->kill;
$redis->start;      # from the snapshot: epoch 5, the old copy of ctx6
is($redis->cmd('GET', 'oxmigrate:epoch'), 5, 'Redis is back at epoch 5');
ok(scalar(grep { /^oxmigrate:v5:ctx6/ } $redis->cmd('KEYS', '*')),
   '... with the copy from before the change');
$_->sigcont_workers for @ng;
sleep 2;
is(everyone('LGI-0016', 'u@ctx6.example.com'), '',
   'no worker of either balancer serves the old copy');
ok($redis->cmd('GET', 'oxmigrate:epoch') >= 8, 'the epoch was moved past 7 ('
   . $redis->cmd('GET', 'oxmigrate:epoch') . ')');
like(join('', map { $_->error_log } @ng), qr/epoch went back from 7 to 5/,
     'and that is logged (by the balancer that saw it first)');

$_->stop for @ng;
done_testing;
