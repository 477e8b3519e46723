#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# How hard logins hit MariaDB, counted in MariaDB's general log (a private
# server, so nothing else is counted): concurrent misses for one context
# part in a worker make one query; shared-memory hits make none; unknown
# context parts are cached negatively, so a flood of logins for a random
# domain costs one query per negative_ttl.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest qw(login login_start oxerror_ok pass_ok);

my $my = OxTest::mariadb_private();
my $db = $my->db('cache');
$db->load('demo.sql');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');
$my->do("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1");

# queries the module sent for this context part so far (the login name is
# sent as a hex literal or as a string: look for both)
sub queries {
    my ($key) = @_;
    my $hex = lc unpack('H*', $key);
    return $my->sql("SELECT COUNT(*) FROM mysql.general_log
                     WHERE command_type = 'Query'
                       AND (LOCATE('$hex', LOWER(CONVERT(argument USING latin1)))
                            OR LOCATE('$key', CONVERT(argument USING latin1)))
                       AND CONVERT(argument USING latin1) NOT LIKE '%general_log%'"
                   )->[0][0];
}

my $URL = 'https://upgrade.example.com/';
my $conf = OxTest::standins() . <<"EOF";
    @{[ $db->directive(timeout => '3s', pool => 4) ]}
    %%CACHE%%
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
EOF

my $ng = OxTest::nginx($conf, db => $db, workers => 1, vars => {
    CACHE => 'oxmigrate_cache zone=oxt_cache:1m ttl=30s negative_ttl=3s;' });
my $P = $ng->port('P');

pass_ok(login(port => $P, user => 'a@ctx1.example.com'), 'old cluster',
        'a first login');
is(queries('ctx1.example.com'), 1, 'one query for it');

# --- shared-memory hits
for (1 .. 20) { login(port => $P, user => 'a@ctx1.example.com') }
is(queries('ctx1.example.com'), 1, '20 more logins: no more queries');
is(login(port => $P, user => 'a@ctx1.example.com')->{headers}{'x-cache'},
   'shm', 'answered from shm');

# --- concurrent misses for one key: hold the table (2 s, so that all the
# logins arrive while it is held, also on a slow machine), send 30 logins
my $lock = $db->sql_bg("LOCK TABLES login2context WRITE;\n"
                       . "SELECT SLEEP(2);\nUNLOCK TABLES;\n");
OxTest::wait_for(sub {
    $db->value("SELECT COUNT(*) FROM information_schema.processlist
                WHERE info LIKE 'SELECT SLEEP(2)%'")
}, 5);
my @h = map { login_start(port => $P, user => "u$_\@ctx4.example.com") }
        1 .. 30;
my @r = map { $_->wait } @h;
is(scalar(grep { $_->{body} =~ /"LGI-0016"/ } @r), 30,
   '30 concurrent logins for one context: all decided');
is(queries('ctx4.example.com'), 1, '... with one query');
$lock->wait;

# --- pool=4: at most 4 configdb connections per worker; more lookups at
# once wait for a free one
$lock = $db->sql_bg("LOCK TABLES login2context WRITE;\n"
                    . "SELECT SLEEP(2);\nUNLOCK TABLES;\n");
OxTest::wait_for(sub {
    $db->value("SELECT COUNT(*) FROM information_schema.processlist
                WHERE info LIKE 'SELECT SLEEP(2)%'")
}, 5);
my $pooldom = 'pool' . int(rand 1e6);
@h = map { login_start(port => $P, user => "u\@$pooldom-$_.example.com") }
     1 .. 10;
my $most = 0;
for (1 .. 10) {
    Time::HiRes::sleep(0.1);
    my $n = $my->sql("SELECT COUNT(*) FROM information_schema.processlist
                      WHERE host LIKE '127.0.0.1:%'")->[0][0];
    $most = $n if $n > $most;
}
@r = map { $_->wait } @h;
ok($most >= 1 && $most <= 4,
   "10 lookups at once with pool=4: at most 4 connections ($most)");
is(scalar(grep { $_->{body} eq "old cluster\n" } @r), 10,
   '... and all 10 answered after the lock');
is(scalar(grep { queries("$pooldom-$_.example.com") == 1 } 1 .. 10), 10,
   '... each with its query (none gave up waiting)');
$lock->wait;

# --- negative caching: a flood for an unknown domain
my $dom = 'flood' . int(rand 1e6) . '.example.com';
for (1 .. 50) { login(port => $P, user => "x$_\@$dom") }
is(queries($dom), 1, '50 logins for an unknown domain: one query');
Time::HiRes::sleep(3.2);
for (1 .. 10) { login(port => $P, user => "x$_\@$dom") }
is(queries($dom), 2, 'after negative_ttl: one more');
$ng->stop;

# --- no cache configured: concurrent misses are still coalesced
$ng = OxTest::nginx($conf, db => $db, workers => 1, vars => { CACHE => '' });
$P = $ng->port('P');
$lock = $db->sql_bg("LOCK TABLES login2context WRITE;\n"
                    . "SELECT SLEEP(2);\nUNLOCK TABLES;\n");
OxTest::wait_for(sub {
    $db->value("SELECT COUNT(*) FROM information_schema.processlist
                WHERE info LIKE 'SELECT SLEEP(2)%'")
}, 5);
my $before = queries('ctx2.example.com');
@h = map { login_start(port => $P, user => "u$_\@ctx2.example.com") } 1 .. 20;
@r = map { $_->wait } @h;
is(scalar(grep { $_->{body} eq "old cluster\n" } @r), 20,
   'no cache: 20 concurrent logins decided');
is(queries('ctx2.example.com') - $before, 1, '... with one query');
$lock->wait;
for (1 .. 5) { login(port => $P, user => 'a@ctx2.example.com') }
is(queries('ctx2.example.com') - $before, 6,
   'no cache: sequential logins query every time');
$ng->stop;

done_testing;
