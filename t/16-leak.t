#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Hostile login bodies (issue 6, point 1): one worker with
# worker_connections 64, 500 login requests of each kind whose body fails
# late (a bad chunk after a pause, too large after a pause), times out,
# is dropped by the client, arrives one byte at a time or never ends.
# After each kind every request has ended and is in the access log, the
# worker holds no client connection and no more descriptors than before,
# and a plain request is answered.  Before the fix the access handler kept
# the body reader's request reference when the body failed: after about
# 60 such requests the worker refused every connection.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxStorm;

my $N = $ENV{OXM_LEAK_N} // 500;

my $db = OxTest::db('leak');
$db->load('demo.sql');
my $echo = OxTest::echo_backend(name => 'old');

my $ng = OxTest::nginx(<<"EOF", db => $db, worker_connections => 64,
    @{[ $db->directive(pool => 1) ]}
    log_format storm '\$arg_kind \$arg_i \$status';
    server {
        listen 127.0.0.1:%%PORT_A%%;
        access_log %%TMP%%/storm.log storm;
        client_max_body_size 1k;
        client_body_timeout 1s;
        lingering_timeout 1s;

        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }
        location = /plain {
            return 200 "plain\\n";
        }
    }
EOF
    vars => { ECHO => $echo->port });
my $A = $ng->port('A');
my ($worker) = $ng->worker_pids;

sub head {
    my ($kind, $i, $extra) = @_;
    return "POST /ajax/login?action=login&kind=$kind&i=$i HTTP/1.1\r\n"
         . "Host: localhost\r\nConnection: close\r\n"
         . "Content-Type: application/x-www-form-urlencoded\r\n$extra\r\n";
}

sub storm_lines {
    my ($kind) = @_;
    my $log = OxTest::_slurp($ng->dir . '/storm.log') // '';
    my %st;
    $st{$2}++ while $log =~ /^\Q$kind\E (\d+) (\d+)$/mg;
    return \%st;
}

# warm up: the configdb connection (pool=1) and the upstream are opened
my $r = OxTest::login(port => $A, user => 'alice@ctx1.example.com');
is($r->{status}, 200, 'a login passes (warm-up)');
my $base = OxStorm::fds($worker);
ok($base > 0, "the worker holds $base descriptors at rest");

my $BODY = 'name=alice%40ctx1.example.com&password=x';

my %kinds = (
    badchunk => {
        want => 400,
        script => sub {
            my $i = shift;
            return ([send => head('badchunk', $i,
                                  "Transfer-Encoding: chunked\r\n")
                             . "5\r\nname=\r\n"],
                    [sleep => 0.1], [send => "zz\r\nbad\r\n"], ['read']);
        },
    },
    toolarge => {
        want => 413,
        script => sub {
            my $i = shift;
            return ([send => head('toolarge', $i,
                                  "Transfer-Encoding: chunked\r\n")
                             . "5\r\nname=\r\n"],
                    [sleep => 0.1],
                    [send => sprintf("%x\r\n%s\r\n", 2000, 'a' x 2000)],
                    ['read']);
        },
    },
    timeout => {
        want => 0, logged => 408,   # nginx closes without an answer
        script => sub {
            my $i = shift;
            return ([send => head('timeout', $i, "Content-Length: 100\r\n")
                             . 'name=alice'], ['read']);
        },
    },
    neverends => {
        want => 0, logged => 408,
        script => sub {
            my $i = shift;
            return ([send => head('neverends', $i,
                                  "Transfer-Encoding: chunked\r\n")
                             . "a\r\nname=alice\r\n"], ['read']);
        },
    },
    abort => {
        want => undef,      # 400 or 499: the client is gone, nobody reads it
        script => sub {
            my $i = shift;
            return ([send => head('abort', $i, "Content-Length: 100\r\n")
                             . 'name=alice'], [sleep => 0.05], ['close']);
        },
    },
    onebyte => {
        want => 200,
        # each one holds an upstream connection too: 2 x 25 of 64
        concurrency => 25,
        script => sub {
            my $i = shift;
            return ([send => head('onebyte', $i,
                                  'Content-Length: ' . length($BODY) . "\r\n")],
                    (map { ([send => $_], [sleep => 0.01]) } split //, $BODY),
                    ['read']);
        },
    },
);

for my $kind (qw(badchunk toolarge timeout neverends abort onebyte)) {
    my $k = $kinds{$kind};
    my @res = OxStorm::storm(port => $A, count => $N,
                             concurrency => $k->{concurrency} // 40,
                             timeout => 10, script => $k->{script});
    my @lost = grep { !$res[$_] || ($res[$_]{error} // '') =~ /timeout|connect/ }
               0 .. $N - 1;
    is(scalar @lost, 0, "$kind: $N requests, every one ended")
        or diag("first lost: $lost[0]: " . ($res[$lost[0]]{error} // '?'));
    if (defined $k->{want}) {
        my @wrong = grep { ($_->{status} // 0) != $k->{want} } @res;
        is(scalar @wrong, 0, "$kind: every answer is "
           . ($k->{want} || 'a close without an answer'))
            or diag("got $wrong[0]{status}: " . substr($wrong[0]{raw}, 0, 200));
    }

    # nginx logs a request when it ends (lingering close is over)
    OxTest::wait_for(sub {
        my $st = storm_lines($kind);
        my $n = 0;
        $n += $_ for values %$st;
        $n >= $N;
    }, 15);
    my $st = storm_lines($kind);
    my $logged = 0;
    $logged += $_ for values %$st;
    my $want = $k->{logged} // $k->{want};
    is($logged, $N, "$kind: all $N in the access log ("
       . join(', ', map { "$_ x$st->{$_}" } sort keys %$st) . ')');
    is($st->{$want} // 0, $N, "$kind: logged with $want") if $want;

    ok(OxTest::wait_for(sub { OxStorm::client_sockets($worker, $A) == 0 }, 10),
       "$kind: the worker holds no client connection")
        or diag('still ' . OxStorm::client_sockets($worker, $A));
    ok(OxTest::wait_for(sub { OxStorm::fds($worker) <= $base }, 10),
       "$kind: descriptors back at $base")
        or diag('now ' . OxStorm::fds($worker));

    my $p = OxTest::http(GET => '/plain', port => $A, timeout => 3);
    is($p->{status}, 200, "$kind: a plain request is answered");
}

is(($ng->worker_pids)[0], $worker, 'the same worker served it all');
$ng->stop;
done_testing;
