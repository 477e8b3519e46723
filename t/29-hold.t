#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# oxmigrate_hold (issue 20): a request whose context is in maintenance
# waits instead of getting CTX-0007 / 503, and is decided again from fresh
# data when the change log shows its context changed: on the primary the
# moved context's login gets LGI-0016, a form login and a share link 302,
# a DAV client (Basic) passes to the new cluster with its body; on the
# secondary they pass.  The hold time (today's answer), the limits, a
# client that goes away, a reload, configdb and Redis down (on_error at
# the hold time), an expected window longer than the hold time.  Never a
# sleep for a timer: the metrics' gauge says what is held, the answers
# themselves say when they came.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use MIME::Base64 qw(encode_base64);
use Test::More;
use Time::HiRes qw(time);
use OxTest qw(login login_start oxerror_ok redirect_ok);

my $my = OxTest::mariadb_private();
my $db = $my->db('hold');
$db->load('demo.sql');
$db->load('changelog.sql');
my $redis = OxTest::redis();
my $old = OxTest::echo_backend(name => 'old');
my $new = OxTest::echo_backend(name => 'new');

my $MOVE = 1431655765;
my $NEWURL = 'https://new.example.com';

my $loc = <<'LOC';
            oxmigrate on;
            oxmigrate_identify login basic share;
            client_max_body_size 10m;
            proxy_request_buffering off;
            proxy_http_version 1.1;
            add_header X-Held $oxmigrate_held always;
            add_header X-Decision $oxmigrate_decision always;
            add_header X-Pid $pid always;
LOC

my $conf = <<"EOF";
    @{[ $db->directive(timeout => '1s', connect_timeout => '500ms') ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%% timeout=200ms;
    oxmigrate_cache zone=oxt_hold_%%ZONE%%:1m ttl=%%TTL%% negative_ttl=2s;

    upstream old { server 127.0.0.1:%%OLD%%; }
    upstream new { server 127.0.0.1:%%NEW%%; }
    upstream misdirected { server 127.0.0.1:%%PORT_MIS%%; }
    map \$oxmigrate_decision \$primary_cluster { redirect new; default old; }
    map \$oxmigrate_decision \$secondary_cluster {
        ctx0012 misdirected; default new;
    }

    server {
        listen 127.0.0.1:%%PORT_MIS%%;
        location / { return 421 "misdirected\\n"; }
    }

    server {
        # reuseport: the kernel spreads the connections over both workers
        listen 127.0.0.1:%%PORT_P%% reuseport;
        oxmigrate_server oxserver-old;
        oxmigrate_redirect_url $NEWURL\$request_uri;
        oxmigrate_hold 20s;
        oxmigrate_retry_after 45s;

        location /ajax/ {
$loc
            proxy_pass http://\$primary_cluster;
        }
        location /short/ {
$loc
            oxmigrate_hold 1s;
            proxy_pass http://\$primary_cluster;
        }
        location /fail/ {
$loc
            oxmigrate_hold 1500ms;
            oxmigrate_on_error fail;
            proxy_pass http://\$primary_cluster;
        }
        location /limit/ {
$loc
            oxmigrate_hold 20s max=3 per_context=2;
            proxy_pass http://\$primary_cluster;
        }
        location /nohold/ {
$loc
            oxmigrate_hold off;
            proxy_pass http://\$primary_cluster;
        }
        location = /metrics { oxmigrate_metrics; }
    }

    server {
        listen 127.0.0.1:%%PORT_S%% reuseport;
        oxmigrate_server oxserver-xyz;
        oxmigrate_hold 20s;

        location /ajax/ {
$loc
            proxy_pass http://\$secondary_cluster;
        }
    }
EOF

my %vars = (OLD => $old->port, NEW => $new->port);

# --- the directive
{
    my $base = $db->directive . "\n%s\nserver { listen 127.0.0.1:%%%%PORT_A%%%%;"
               . " location / { oxmigrate on; oxmigrate_server oxserver-old;"
               . " %s proxy_pass http://127.0.0.1:1; } }";
    my $cache = 'oxmigrate_cache zone=oxt_hold_c:1m;';
    for my $c (['oxmigrate_hold 15s max=20000 per_context=2000;', undef],
               ['oxmigrate_hold off;', undef],
               ['oxmigrate_hold soon;', qr/invalid hold time "soon"/],
               ['oxmigrate_hold 0s;', qr/invalid hold time "0s"/],
               ['oxmigrate_hold 5s max=0;', qr/invalid parameter "max=0"/],
               ['oxmigrate_hold 5s per_context=x;',
                qr/invalid parameter "per_context=x"/],
               ['oxmigrate_hold 5s bogus=1;', qr/invalid parameter "bogus=1"/],
               ['oxmigrate_hold 5s; oxmigrate_hold 6s;', qr/is duplicate/])
    {
        my ($rc, $out) = OxTest::nginx_check(sprintf($base, $cache, $c->[0]),
                                             db => $db);
        if (defined $c->[1]) {
            ok($rc != 0 && $out =~ $c->[1], "nginx -t refuses $c->[0]")
                or diag $out;
        } else {
            is($rc, 0, "nginx -t takes $c->[0]") or diag $out;
        }
    }
    my ($rc, $out) = OxTest::nginx_check(sprintf($base, '', 'oxmigrate_hold 5s;'),
                                         db => $db);
    ok($rc != 0 && $out =~ /"oxmigrate_hold" needs "oxmigrate_cache"/,
       'oxmigrate_hold without oxmigrate_cache or oxmigrate_redis: refused')
        or diag $out;
}

# both balancers' roles in one nginx, two workers
my $ng = OxTest::nginx($conf, db => $db, redis => $redis, workers => 2,
                       vars => { %vars, ZONE => 'a', TTL => '60s' });
my ($P, $S) = ($ng->port('P'), $ng->port('S'));

sub basic { 'Basic ' . encode_base64("$_[0]:secret-pw", '') }

sub token {
    my ($cid) = @_;
    my $r1 = 0x1a2b3c4;
    return sprintf('%08x', $cid ^ $r1) . 'deadbeef' . sprintf('%07x', $r1)
           . ('5' x 25);
}

sub metrics {
    my ($port) = @_;
    my $r = OxTest::http(GET => '/metrics', port => $port);
    my %v;
    for (split /\n/, $r->{body}) {
        $v{$1} = $2 if /^([^#\s]\S*) (\S+)$/;
    }
    return \%v;
}

sub held_now { metrics($_[0])->{oxmigrate_held_requests} // -1 }

sub outcome { metrics($_[0])->{"oxmigrate_held_total{outcome=\"$_[1]\"}"} // 0 }

# every worker answers $code for $user on /nohold/ (the change was seen)
sub seen_everywhere {
    my ($port, $user, $code) = @_;
    my %left = map { $_ => 1 } $ng->worker_pids;
    # a condition, not a count: a loaded machine (ASan beside the plain
    # pass) may take seconds before a worker's change-log poll runs
    my $until = time + 60;
    while (time < $until) {
        my $r = login(port => $port, user => $user, path => '/nohold/login');
        my $got = $r->{body} =~ /"code":"([^"]+)"/ ? $1 : "status $r->{status}";
        delete $left{ $r->{headers}{'x-pid'} // 0 } if $got eq $code;
        return 1 unless %left;
    }
    diag "workers that never answered $code: @{[ sort keys %left ]}";
    return 0;
}

sub sql_move {
    my ($cids, $what) = @_;
    $db->do("UPDATE context SET enabled = 0, reason_id = $MOVE WHERE cid IN ($cids)")
        if $what eq 'disable';
    $db->do("UPDATE context_server2db_pool SET server_id = 8 WHERE cid IN ($cids)")
        if $what eq 'changeserver';
    $db->do("UPDATE context SET enabled = 1, reason_id = NULL WHERE cid IN ($cids)")
        if $what eq 'enable';
}

# warm: ctx4..6 (schema oxdatabase_6) pass on the primary
for (1 .. 4) {
    login(port => $P, user => "w\@ctx$_.example.com", path => "/nohold/login")
        for 4 .. 6;
}

# ------------------------------------------------ held, then released by enable
sql_move('4, 5, 6', 'disable');
ok(seen_everywhere($P, 'a@ctx4.example.com', 'CTX-0007'),
   'schema oxdatabase_6 disabled: every worker sees the maintenance');

my $UPLOAD = join '', map { chr(($_ * 7) % 256) } 1 .. 300_000;

my %req = (
    'P login' => sub { login_start(port => $P, user => 'a@ctx4.example.com',
                                   timeout => 30) },
    'P formlogin' => sub { login_start(port => $P, user => 'b@ctx5.example.com',
                                       action => 'formlogin', timeout => 30) },
    'P dav' => sub { OxTest::http_start(PROPFIND => '/ajax/dav/', port => $P,
        headers => { Authorization => basic('c@ctx6.example.com') },
        timeout => 30) },
    'P dav upload' => sub { OxTest::http_start(PUT => '/ajax/dav/big.bin',
        port => $P, body => $UPLOAD, timeout => 30,
        headers => { Authorization => basic('d@ctx4.example.com'),
                     'Content-Type' => 'application/octet-stream' }) },
    'P share' => sub { OxTest::http_start(GET => '/ajax/share/' . token(5)
                                          . '/f.txt', port => $P,
                                          timeout => 30) },
    'S login' => sub { login_start(port => $S, user => 'e@ctx4.example.com',
                                   timeout => 30) },
    'S dav' => sub { OxTest::http_start(PROPFIND => '/ajax/dav/', port => $S,
        headers => { Authorization => basic('f@ctx5.example.com') },
        timeout => 30) },
    'S share' => sub { OxTest::http_start(GET => '/ajax/share/' . token(6),
                                          port => $S, timeout => 30) },
);
# more of them, so that both workers surely hold some
$req{"P login $_"} = $req{'P login'} for 2 .. 4;
$req{"S login $_"} = $req{'S login'} for 2 .. 4;
my @kinds = sort keys %req;

my @pending;
for my $k (@kinds) {
    push @pending, [$k, $req{$k}->()];
}
my $heads_before = () = $old->heads;
ok(OxTest::wait_for(sub { held_now($P) == @pending }, 10),
   'the ' . @pending . ' requests are held (gauge), none answered')
    or diag 'held: ' . held_now($P);
is(scalar($new->heads) + scalar($old->heads) - $heads_before, 0,
   'nothing reached a backend while held (the upload waits with its body '
   . 'unread)');

my $t0 = time;
sql_move('4, 5, 6', 'changeserver');
sql_move('4, 5, 6', 'enable');

my %r = map { $_->[0] => $_->[1]->wait } @pending;
my $took = time - $t0;
ok($took < 5, sprintf('all answered %.1f s after the enable (the hold time '
                      . 'is 20 s)', $took));

oxerror_ok($r{'P login'}, 'LGI-0016', ["$NEWURL/ajax/login?action=login"],
           'primary, held login: LGI-0016 to the new cluster');
redirect_ok($r{'P formlogin'}, 302, "$NEWURL/ajax/login?action=formlogin",
            'primary, held form login: 302');
is($r{'P dav'}{headers}{'x-backend'}, 'new',
   'primary, held DAV request: routed to the new cluster');
is($r{'P dav'}{headers}{'x-decision'}, 'redirect', '... decision redirect');
is($r{'P dav upload'}{headers}{'x-backend'}, 'new',
   'primary, held DAV upload: routed to the new cluster');
is($r{'P dav upload'}{headers}{'x-body-md5'}, md5_hex($UPLOAD),
   '... with its whole body');
redirect_ok($r{'P share'}, 302, "$NEWURL/ajax/share/" . token(5) . '/f.txt',
            'primary, held share link: 302');
is($r{'S login'}{headers}{'x-backend'}, 'new',
   'secondary, held login: passes to the new cluster');
is($r{'S dav'}{headers}{'x-backend'}, 'new', 'secondary, held DAV: passes');
is($r{'S share'}{headers}{'x-backend'}, 'new', 'secondary, held share: passes');
my @bad = grep { ($r{$_}{headers}{'x-held'} // '') !~ /^\d+\.\d{3}$/ } @kinds;
is("@bad", '', '$oxmigrate_held says how long each was held');
is(held_now($P), 0, 'nothing held any more');
is(outcome($P, 'released'), scalar @pending,
   'oxmigrate_held_total{outcome="released"} counts them');
like(metrics($P)->{oxmigrate_held_seconds_count}, qr/^\d+$/,
     'oxmigrate_held_seconds is a histogram');

# both workers held requests (the answers' X-Pid; accept order decides)
my %pids = map { ($_->{headers}{'x-pid'} // 0) => 1 } values %r;
ok(keys %pids >= 2, 'both workers held and released requests')
    or diag 'pids: ' . join ' ', keys %pids;

my %counts = $redis->cmd('HGETALL', 'oxmigrate:hold:oxdatabase_6');
is($counts{held}, scalar @pending,
   'per schema in Redis: oxmigrate:hold:oxdatabase_6 held');

# ------------------------------------------------ the hold time: today's answer
sql_move('3', 'disable');
ok(seen_everywhere($P, 'a@ctx3.example.com', 'CTX-0007'), 'ctx3 disabled');
my $exp0 = outcome($P, 'expired');
my @short = (login_start(port => $P, user => 'a@ctx3.example.com',
                         path => '/short/login'),
             OxTest::http_start(PROPFIND => '/short/dav/', port => $P,
                 headers => { Authorization => basic('b@ctx3.example.com') }));
my ($l, $d) = map { $_->wait } @short;
oxerror_ok($l, 'CTX-0007', undef, 'hold time (1 s) over: CTX-0007');
ok($l->{ms} >= 950, sprintf('... after the hold time (%d ms)', $l->{ms}));
like($l->{headers}{'x-held'} // '', qr/^1\.\d{3}$/, '... $oxmigrate_held 1.x');
is($d->{status}, 503, 'DAV: 503');
is($d->{headers}{'retry-after'}, '45', '... with Retry-After');
is(outcome($P, 'expired') - $exp0, 2, 'outcome="expired" counts both');
%counts = $redis->cmd('HGETALL', 'oxmigrate:hold:oxdatabase_5');
ok(($counts{answered} // 0) >= 2,
   'per schema: oxmigrate:hold:oxdatabase_5 answered (maintenance answers)');

# ------------------------------------------------ expected window > hold time
my $win0 = outcome($P, 'window');
$redis->cmd('SET', 'oxmigrate:window:oxdatabase_5',
            int(time * 1000) + 600_000, 'PX', 600_000);
$t0 = time;
$l = login(port => $P, user => 'a@ctx3.example.com');
oxerror_ok($l, 'CTX-0007', undef,
           'schema expected back in 10 min (hold 20 s): CTX-0007');
ok(time - $t0 < 2, sprintf('... at once (%.2f s)', time - $t0));
is(outcome($P, 'window') - $win0, 1, '... outcome="window"');
$redis->cmd('SET', 'oxmigrate:window:oxdatabase_5',
            int(time * 1000) + 1000, 'PX', 600_000);
my $h = login_start(port => $P, user => 'a@ctx3.example.com', timeout => 30);
ok(OxTest::wait_for(sub { held_now($P) == 1 }, 10),
   'expected back within the hold time: held');

# ------------------------------------------------ a reload while held
my @more = map { login_start(port => $P, user => "r$_\@ctx3.example.com",
                             timeout => 30) } 1 .. 2;
ok(OxTest::wait_for(sub { held_now($P) == 3 }, 10), 'three held');
$t0 = time;
is($ng->signal('reload'), 0, 'nginx -s reload');   # returns when new workers run
my @late;
for my $p ($h, @more) {
    my $r = $p->wait;
    oxerror_ok($r, 'CTX-0007', undef,
               'reload while held: answered (today\'s answer)');
    push @late, $p->{t0} + $r->{ms} / 1000 - $t0;
}
@late = sort { $b <=> $a } @late;
ok($late[0] < 2, sprintf('... within %.2f s of the reload, none hangs',
                         $late[0]));
OxTest::wait_for(sub { held_now($P) == 0 }, 10);
is(held_now($P), 0, 'nothing held after the reload');
ok(outcome($P, 'shutdown') >= 3, 'outcome="shutdown"');
$redis->cmd('DEL', 'oxmigrate:window:oxdatabase_5');

# ------------------------------------------------ limits, a client that leaves
# one worker: the limits are per worker
$ng->stop;
my $ng1 = OxTest::nginx($conf, db => $db, redis => $redis, workers => 1,
                        vars => { %vars, ZONE => 'b', TTL => '1s' });
($P, $S) = ($ng1->port('P'), $ng1->port('S'));
sql_move('2', 'disable');
sub seen1 {
    my ($user) = @_;
    OxTest::wait_for(sub {
        login(port => $P, user => $user, path => '/nohold/login')->{body}
            =~ /CTX-0007/ }, 10);
}
ok(seen1('x@ctx2.example.com') && seen1('x@ctx3.example.com'),
   'ctx2 and ctx3 in maintenance');

my $lim0 = outcome($P, 'limit');
my @c3 = map { login_start(port => $P, user => "l$_\@ctx3.example.com",
                           path => '/limit/login', timeout => 30) } 1 .. 2;
ok(OxTest::wait_for(sub { held_now($P) == 2 }, 10), 'two of ctx3 held');
$l = login(port => $P, user => 'l3@ctx3.example.com', path => '/limit/login');
oxerror_ok($l, 'CTX-0007', undef, 'a third of ctx3 (per_context=2): '
                                  . 'answered at once');
is($l->{headers}{'x-held'}, undef, '... not held ($oxmigrate_held empty)');
my $c2 = login_start(port => $P, user => 'l1@ctx2.example.com',
                     path => '/limit/login', timeout => 30);
ok(OxTest::wait_for(sub { held_now($P) == 3 }, 10), 'one of ctx2 held: 3');
$l = login(port => $P, user => 'l2@ctx2.example.com', path => '/limit/login');
oxerror_ok($l, 'CTX-0007', undef, 'a fourth (max=3): answered at once');
is(outcome($P, 'limit') - $lim0, 2, 'outcome="limit" counts both');

my $gone0 = outcome($P, 'gone');
$c2->close;
ok(OxTest::wait_for(sub { held_now($P) == 2 }, 10),
   'a client that goes away frees its place at once');
is(outcome($P, 'gone') - $gone0, 1, 'outcome="gone"');
$c2 = login_start(port => $P, user => 'l4@ctx2.example.com',
                  path => '/limit/login', timeout => 30);
ok(OxTest::wait_for(sub { held_now($P) == 3 }, 10), 'its place is taken');

sql_move('2, 3', 'enable');
for my $p (@c3, $c2) {
    my $r = $p->wait;
    is($r->{headers}{'x-backend'}, 'old',
       'released by enable (still on the old server): passes');
}

# ------------------------------------------------ configdb and Redis down
sql_move('3', 'disable');
ok(seen1('x@ctx3.example.com'), 'ctx3 in maintenance again');
my @f = (login_start(port => $P, user => 'f@ctx3.example.com',
                     path => '/fail/login', timeout => 30),
         OxTest::http_start(PROPFIND => '/fail/dav/', port => $P,
             headers => { Authorization => basic('g@ctx3.example.com') },
             timeout => 30));
ok(OxTest::wait_for(sub { held_now($P) == 2 }, 10), 'two held on /fail/');
$my->stop;
$redis->stop;
$t0 = time;
($l, $d) = map { $_->wait } @f;
oxerror_ok($l, 'LGI-0005', undef,
           'configdb and Redis down: at the hold time, on_error fail (LGI-0005)');
ok($l->{ms} >= 1450 && $l->{ms} < 4000,
   "... at the hold time (+ the lookup's timeouts): $l->{ms} ms");
is($d->{status}, 503, 'DAV: 503 (on_error fail)');
$my->start;
$redis->start;

$ng1->stop;
done_testing();
