#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Hostile logins (issue 6, points 2-4): a redirect URL evaluated from the
# request never splits the Location header; case, trailing-space and
# Unicode case, accent and ignored-character variants of one login domain
# share one cache entry and one configdb query, as the configdb collation
# makes them equal; a login body of tens
# of megabytes is scanned in bounded pieces (the worker's peak memory
# barely moves), the login field is found behind 50 MB of padding, and
# the body still reaches the backend byte for byte.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use POSIX ();
use Storable ();
use Test::More;
use OxTest qw(login oxerror_ok redirect_ok);

my $my = OxTest::mariadb_private();
my $db = $my->db('hostile');
$db->load('demo.sql');
# ctx4 and ctx5 live on the upgraded server
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid IN (4, 5)');
$my->do("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1");

# the module's context lookups so far, whatever name they asked for
sub lookups {
    return $my->sql("SELECT COUNT(*) FROM mysql.general_log
                     WHERE command_type = 'Query'
                       AND CONVERT(argument USING latin1) LIKE '%login2context%'
                       AND CONVERT(argument USING latin1) NOT LIKE '%general_log%'"
                   )->[0][0];
}

my $redis = OxTest::redis();
my $echo = OxTest::echo_backend(name => 'old');

my $ng = OxTest::nginx(<<"EOF", db => $db, redis => $redis,
    @{[ $db->directive(timeout => '3s') ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%% ttl=300s;
    oxmigrate_cache zone=oxt_hostile:1m ttl=300s negative_ttl=300s;
    server {
        listen 127.0.0.1:%%PORT_A%%;
        client_max_body_size 100m;

        location /split/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url http://new.example.com\$uri;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }
        location /req/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url http://new.example.com\$request_uri;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://new.example.com/appsuite/;
            add_header X-Cache \$oxmigrate_cache always;
            add_header X-Context \$oxmigrate_context_id always;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }
        location = /metrics { oxmigrate_metrics; }
    }
EOF
    vars => { ECHO => $echo->port });
my $A = $ng->port('A');

# ------------------------------------------------------------ header split

for my $case (['%0d%0aSet-Cookie:%20evil=1', 'CR LF'],
              ['%0aSet-Cookie:%20evil=1', 'LF'],
              ['%0dX', 'CR'], ['%09x', 'TAB'], ['%7fx', 'DEL'],
              ['%1bx', 'ESC'])
{
    my ($bad, $what) = @$case;
    $ng->error_log_new;
    for my $action ('formlogin', 'login') {
        my $r = login(port => $A, action => $action,
                      path => "/split/a${bad}b/login",
                      user => 'u@ctx4.example.com');
        is($r->{status}, 500, "$what in \$uri, $action: refused with 500");
        ok(!exists $r->{headers}{'set-cookie'}
           && !exists $r->{headers}{location}
           && $r->{raw} !~ /evil/, "$what, $action: no Location, no cookie");
    }
    like($ng->error_log_new,
         qr/"oxmigrate_redirect_url" gave a URL with the control byte/,
         "$what: the error log names the directive");
}

# the same path with $request_uri stays encoded and is redirected
my $r = login(port => $A, action => 'formlogin',
              path => '/req/a%0d%0aSet-Cookie:%20evil=1/login',
              user => 'u@ctx4.example.com');
redirect_ok($r, 302, 'http://new.example.com/req/a%0d%0aSet-Cookie:%20evil=1'
                     . '/login?action=formlogin', '$request_uri: 302, encoded');
ok(!exists $r->{headers}{'set-cookie'}, '... and no cookie');

# a clean $uri is redirected as before
$r = login(port => $A, action => 'formlogin', path => '/split/x/login',
           user => 'u@ctx4.example.com');
redirect_ok($r, 302, 'http://new.example.com/split/x/login',
            'a clean $uri is redirected');

# ------------------------------------------------- one entry per domain

sub variant {
    my ($i) = @_;
    my $d = 'ctx5.example.com';
    my $v = join '', map { ($i >> ($_ % 12)) & 1 ? uc(substr($d, $_, 1))
                                                 : substr($d, $_, 1) }
            0 .. length($d) - 1;
    return $v . (' ' x (int($i / 4096) % 4));
}
my %seen;
my @variants = grep { !$seen{$_}++ } map { variant($_) } 0 .. 20000;
@variants = @variants[0 .. 2999];
is(scalar(grep { defined } @variants), 3000, '3000 distinct variants');

# the balancer writes what configdb answered into Redis only once its
# Redis connection is up (asynchronous at start, slow under ASan)
ok(OxTest::wait_for(sub {
       OxTest::http(GET => '/metrics', port => $A)->{body}
           =~ /^oxmigrate_redis_up 1$/m }, 20), 'the balancer is connected to Redis');

my $before = lookups();
my $keys_before = $redis->cmd('DBSIZE');
my $wrong = 0;
for my $i (0 .. $#variants) {
    my $x = login(port => $A, user => "u$i\@$variants[$i]");
    $wrong++ unless $x->{status} == 200
                    && $x->{body} =~ /"code":"LGI-0016"/;
}
is($wrong, 0, 'every variant is redirected (LGI-0016)');
my $q = lookups() - $before;
ok($q >= 1 && $q <= 3, "3000 variants cost $q configdb queries");
my $k = $redis->cmd('DBSIZE') - $keys_before;
ok($k <= 2, "... and $k new Redis keys");
my @keys = grep { /ctx5/i } $redis->cmd('KEYS', '*');
is_deeply([map { /(ctx5.*)$/ } @keys], ['ctx5.example.com'],
          'the one Redis key is the lowered name');

# unknown variants: negatively cached as one name
$before = lookups();
for my $i (0 .. 299) {
    my $v = variant($i);
    $v =~ s/ctx5/nosuch/i;
    my $x = login(port => $A, user => "u\@$v");
    $wrong++ unless $x->{status} == 200
                    && ($x->{headers}{'x-backend'} // '') eq 'old';
}
is($wrong, 0, '300 variants of an unknown domain pass');
$q = lookups() - $before;
ok($q >= 1 && $q <= 3, "... with $q configdb queries");

# a local context in upper case passes to the old cluster
$r = login(port => $A, user => 'U@CTX1.EXAMPLE.COM  ');
is($r->{headers}{'x-context'}, 1, 'CTX1.EXAMPLE.COM and spaces: context 1');

# ------------------------------- what else the collation folds (issue 17)

# utf8mb4_unicode_ci finds "ctx5" in "c\x01tx5", "ctx\xe2\x80\x8b5"
# (U+200B) and "CTX\xe2\x81\xa05" alike, and "example" in "EX\xc3\x84MPLE"
# (Ä): the cache key folds the same, so all are one entry, one query.
my @ign = ((map { chr } 1 .. 8, 0x0e .. 0x1f, 0x7f),
           "\xe2\x80\x8b", "\xe2\x81\xa0", "\xef\xbb\xbf", "\xcd\x8f",
           "\xe2\x80\x8c", "\xe2\x80\x8d");
$before = lookups();
$keys_before = $redis->cmd('DBSIZE');
my $moved = 0;
my %names;
for my $i (0 .. 999) {
    my @c = split //, 'ctx5';
    for my $k (0 .. $i % 3) {
        my $at = ($i >> $k) % (@c + 1);
        splice @c, $at, 0, $ign[($i * 7 + $k) % @ign];
    }
    my $name = join('', @c) . '.example.com';
    $names{$name}++;
    my $x = login(port => $A, user => "u\@$name");
    $moved++ if $x->{status} == 200 && $x->{body} =~ /"code":"LGI-0016"/;
}
cmp_ok(scalar(keys %names), '>', 500, scalar(keys %names)
       . ' distinct spellings with characters the collation ignores');
is($moved, 1000, '... all of ctx5: LGI-0016');
$q = lookups() - $before;
ok($q < 50, "1000 ignorable-character variants cost $q configdb queries");
$k = $redis->cmd('DBSIZE') - $keys_before;
ok($k <= 2, "... and $k new Redis keys");

$before = lookups();
$moved = 0;
my @acc = ("\xc3\xa4", "\xc3\x84", "\xc3\xa1", "\xc3\x81", "\xc3\xa2",
           "\xc3\xa0", "a", "A", "\xc4\x81", "\xc4\x80");
for my $i (0 .. 199) {
    my $name = 'ctx5.ex' . $acc[$i % 10] . 'mpl' . ($i % 3 ? 'e' : "\xc3\xa9")
               . '.com' . (' ' x ($i % 2));
    my $x = login(port => $A, user => "u\@$name");
    $moved++ if $x->{status} == 200 && $x->{body} =~ /"code":"LGI-0016"/;
}
is($moved, 200, 'Unicode case and accents (exÄmple, exámplé): ctx5');
$q = lookups() - $before;
ok($q <= 1, "... $q configdb queries for 200 such spellings");

# ----------------------------------------------------------- huge bodies

my ($worker) = $ng->worker_pids;
sub hwm {
    my $s = OxTest::_slurp("/proc/$worker/status") // '';
    return $s =~ /^VmHWM:\s+(\d+) kB/m ? $1 : 0;
}

my $MB = 1024 * 1024;
my $pad = 'x' x (50 * $MB);
my @bodies = (
    # the login field after 50 MB: ctx4 is redirected
    (map { "pad=$pad&name=u$_%40ctx4.example.com&more=" . ('y' x (10 * $MB)) }
     1 .. 3),
    # ctx1 passes: the backend gets 60 MB byte for byte
    (map { "pad=$pad&name=u$_%40ctx1.example.com&more=" . ('z' x (10 * $MB)) }
     1 .. 3),
);

# six clients at once, each in its own process (a client sends its body
# whole before it reads; in one process the bodies would go one by one)
my $hwm = hwm();
my $dir = OxTest::tmpdir();
my @kids;
for my $i (0 .. 5) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $x = OxTest::http(POST => '/ajax/login?action=login', port => $A,
                             body => $bodies[$i], timeout => 120,
                             headers => { 'Content-Type'
                                 => 'application/x-www-form-urlencoded' });
        delete $x->{raw};
        Storable::store($x, "$dir/res-$i");
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid($_, 0) for @kids;
my @res = map { Storable::retrieve("$dir/res-$_") } 0 .. 5;
my $grew = hwm() - $hwm;

for my $i (0 .. 2) {
    oxerror_ok($res[$i], 'LGI-0016', ['https://new.example.com/appsuite/'],
               "60 MB body $i: the field after 50 MB is found (redirected)");
}
for my $i (3 .. 5) {
    ok($res[$i]{status} == 200
       && ($res[$i]{headers}{'x-body-md5'} // '') eq md5_hex($bodies[$i])
       && ($res[$i]{headers}{'x-body-length'} // 0) == length($bodies[$i]),
       "60 MB body $i passes to the backend byte for byte");
}
ok($grew < 16 * 1024, "six concurrent 60 MB logins: peak RSS +$grew kB "
   . '(< 16 MB)');

$ng->stop;
done_testing;
