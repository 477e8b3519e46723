#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The decision table of the login routing issue, every row, on a primary
# balancer (oxmigrate_redirect_url set) and a secondary one (not set), for
# both login actions (login: field "name", formlogin: field "login"), as a
# POST form body and as a GET query.  No cache: every login reads the
# configdb, so a row changed here is seen by the next request.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest qw(login oxerror_ok pass_ok redirect_ok);

my $db = OxTest::db('decision');
$db->load('demo.sql');

# the rows of the table, one context each (demo.sql: all on server 2)
#   ctx1  enabled on oxserver-old (2)
#   ctx4  enabled on oxserver-xyz (8)          (moved)
#   ctx2  disabled for the schema move         (maintenance)
#   ctx3  disabled for another reason (7)
#   ctx5  enabled on server 9, not in table server
#   ctx7  enabled on oxserver-old2 (10): a name oxserver-old is a prefix of
$db->do(q{
    UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4;
    UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = 2;
    UPDATE context SET enabled = 0, reason_id = 7 WHERE cid = 3;
    UPDATE context_server2db_pool SET server_id = 9 WHERE cid = 5;
    INSERT INTO server VALUES (10, 'oxserver-old2', UNHEX(REPEAT('0a', 16)));
    INSERT INTO context (cid, name, enabled) VALUES (7, 'ctx7', 1);
    INSERT INTO login2context VALUES (7, 'ctx7.example.com');
    INSERT INTO context_server2db_pool VALUES (10, 7, 3, 3, 'oxdatabase_7');
});

my $URL = 'https://upgrade.example.com/appsuite/';

my $ng = OxTest::nginx(OxTest::standins() . <<"EOF", db => $db);
    @{[ $db->directive ]}

    # primary balancer
    server {
        listen 127.0.0.1:%%PORT_P%%;

        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        location /appsuite/api/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%/ajax/;
        }

        location /r301/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_redirect_status 301;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /r303/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_redirect_status 303;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /r307/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_redirect_status 307;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
        location /r308/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_redirect_status 308;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        # action=login gets the HTTP redirect too
        location /nojson/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_redirect_json off;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        # nginx variables in the URL
        location /var/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://xyz.example.com\$request_uri;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        location /nomaint/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_maintenance off;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        location /retry/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_retry_after 2m;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        # only action=login is a login here
        location /actions/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_login_actions login;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        # a custom action with the "name" field
        location /custom/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            oxmigrate_login_actions login formlogin autologin2;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        # several servers behind one balancer
        location /both/ {
            oxmigrate on;
            oxmigrate_server oxserver-old oxserver-xyz;
            oxmigrate_redirect_url $URL;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        # inherited from the server level, switched off in one location
        location /inherit/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url $URL;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;

            location /inherit/off/ {
                oxmigrate off;
                proxy_pass http://127.0.0.1:%%PORT_OLD%%;
            }
        }

        # a server registered only later
        location /late/ {
            oxmigrate on;
            oxmigrate_server oxserver-late;
            oxmigrate_redirect_url $URL;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        # JSON escaping of what a variable brings into the URL
        location /esc/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url "https://x.example.com/?u=\$arg_u";
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }

        location / {
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }

    # secondary balancer
    server {
        listen 127.0.0.1:%%PORT_S%%;

        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }

        location /nomaint/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            oxmigrate_maintenance off;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }
    }
EOF

my ($P, $S) = ($ng->port('P'), $ng->port('S'));

# --- the table, both balancers, both actions, POST and GET
for my $method (qw(POST GET)) {
    for my $action (qw(login formlogin)) {
        my $t = "$method $action";
        my %p = (method => $method, action => $action);

        # no login name at all
        my $r = login(%p, port => $P);
        pass_ok($r, 'old cluster', "$t: primary, no login name passes");
        $r = login(%p, port => $S);
        pass_ok($r, 'new cluster', "$t: secondary, no login name passes");

        # empty login name
        pass_ok(login(%p, port => $P, user => ''), 'old cluster',
                "$t: primary, empty login name passes");

        # no such context
        pass_ok(login(%p, port => $P, user => 'bob@nowhere.example.com'),
                'old cluster', "$t: primary, unknown context passes");
        pass_ok(login(%p, port => $S, user => 'bob@nowhere.example.com'),
                'new cluster', "$t: secondary, unknown context passes");

        # enabled, on a server named by oxmigrate_server
        pass_ok(login(%p, port => $P, user => 'alice@ctx1.example.com'),
                'old cluster', "$t: primary, context on its server passes");
        pass_ok(login(%p, port => $S, user => 'dave@ctx4.example.com'),
                'new cluster', "$t: secondary, context on its server passes");

        # no '@': defaultcontext (cid 1, on oxserver-old)
        pass_ok(login(%p, port => $P, user => 'alice'), 'old cluster',
                "$t: primary, defaultcontext passes");
        oxerror_ok(login(%p, port => $S, user => 'alice'), 'CTX-0012',
                   [1, 2], "$t: secondary, defaultcontext CTX-0012");

        # enabled, on another server
        $r = login(%p, port => $P, user => 'dave@ctx4.example.com');
        if ($action eq 'login') {
            oxerror_ok($r, 'LGI-0016', [$URL],
                       "$t: primary, moved context LGI-0016");
        } else {
            redirect_ok($r, 302, $URL, "$t: primary, moved context 302");
        }
        oxerror_ok(login(%p, port => $S, user => 'alice@ctx1.example.com'),
                   'CTX-0012', [1, 2],
                   "$t: secondary, context on the old server CTX-0012");

        # enabled, on a server id that is not in table server
        $r = login(%p, port => $P, user => 'eve@ctx5.example.com');
        if ($action eq 'login') {
            oxerror_ok($r, 'LGI-0016', [$URL],
                       "$t: primary, unregistered server LGI-0016");
        } else {
            redirect_ok($r, 302, $URL, "$t: primary, unregistered server 302");
        }
        oxerror_ok(login(%p, port => $S, user => 'eve@ctx5.example.com'),
                   'CTX-0012', [5, 9], "$t: secondary, server 9 CTX-0012");

        # disabled for the schema move: maintenance, on both
        for my $b ([P => $P], [S => $S]) {
            $r = login(%p, port => $b->[1], user => 'carol@ctx2.example.com');
            oxerror_ok($r, 'CTX-0007', undef,
                       "$t: $b->[0], schema maintenance CTX-0007");
            is($r->{headers}{'retry-after'}, 30,
               "$t: $b->[0], Retry-After: 30");
        }

        # disabled for another reason: the node answers itself
        pass_ok(login(%p, port => $P, user => 'x@ctx3.example.com'),
                'old cluster', "$t: primary, otherwise disabled passes");
        pass_ok(login(%p, port => $S, user => 'x@ctx3.example.com'),
                'new cluster', "$t: secondary, otherwise disabled passes");

        # /appsuite/api/ is mapped to /ajax/ and routed the same way
        pass_ok(login(%p, port => $P, path => '/appsuite/api/login',
                      user => 'alice@ctx1.example.com'),
                'old cluster', "$t: /appsuite/api/ passes");
        $r = login(%p, port => $P, path => '/appsuite/api/login',
                   user => 'dave@ctx4.example.com');
        if ($action eq 'login') {
            oxerror_ok($r, 'LGI-0016', [$URL], "$t: /appsuite/api/ LGI-0016");
        } else {
            redirect_ok($r, 302, $URL, "$t: /appsuite/api/ 302");
        }

        # maintenance off: passes instead
        pass_ok(login(%p, port => $P, path => '/nomaint/login',
                      user => 'carol@ctx2.example.com'),
                'old cluster', "$t: primary, maintenance off passes");
        pass_ok(login(%p, port => $S, path => '/nomaint/login',
                      user => 'carol@ctx2.example.com'),
                'new cluster', "$t: secondary, maintenance off passes");
    }
}

# --- redirect statuses (any non-JSON login action)
for my $st (301, 303, 307, 308) {
    redirect_ok(login(action => 'formlogin', port => $P,
                      path => "/r$st/login", user => 'dave@ctx4.example.com'),
                $st, $URL, "oxmigrate_redirect_status $st");
    oxerror_ok(login(port => $P, path => "/r$st/login",
                     user => 'dave@ctx4.example.com'),
               'LGI-0016', [$URL], "status $st: action=login still LGI-0016");
}

# --- redirect_json off: the UI login is redirected as well
redirect_ok(login(port => $P, path => '/nojson/login',
                  user => 'dave@ctx4.example.com'),
            302, $URL, 'redirect_json off: action=login gets 302');
redirect_ok(login(port => $P, path => '/nojson/login', method => 'GET',
                  user => 'dave@ctx4.example.com'),
            302, $URL, 'redirect_json off: GET action=login gets 302');

# --- variables in the URL
oxerror_ok(login(port => $P, path => '/var/login',
                 user => 'dave@ctx4.example.com'),
           'LGI-0016', ['https://xyz.example.com/var/login?action=login'],
           'redirect URL with $request_uri (LGI-0016)');
redirect_ok(login(port => $P, path => '/var/login', action => 'formlogin',
                  user => 'dave@ctx4.example.com'),
            302, 'https://xyz.example.com/var/login?action=formlogin',
            'redirect URL with $request_uri (302)');

# --- Retry-After
my $r = login(port => $P, path => '/retry/login',
              user => 'carol@ctx2.example.com');
oxerror_ok($r, 'CTX-0007', undef, 'CTX-0007 with oxmigrate_retry_after 2m');
is($r->{headers}{'retry-after'}, 120, 'Retry-After: 120');

# --- oxmigrate_login_actions
oxerror_ok(login(port => $P, path => '/actions/login',
                 user => 'dave@ctx4.example.com'),
           'LGI-0016', [$URL], 'login_actions login: action=login routed');
pass_ok(login(port => $P, path => '/actions/login', action => 'formlogin',
              user => 'dave@ctx4.example.com'),
        'old cluster', 'login_actions login: formlogin is not a login');
redirect_ok(login(port => $P, path => '/custom/login', action => 'autologin2',
                  user => 'dave@ctx4.example.com'),
            302, $URL, 'custom action: field "name", HTTP redirect');
pass_ok(login(port => $P, action => 'autologin2',
              user => 'dave@ctx4.example.com'),
        'old cluster', 'custom action not listed in /ajax/: passes');

# --- several oxmigrate_server names
pass_ok(login(port => $P, path => '/both/login', user => 'dave@ctx4.example.com'),
        'old cluster', 'second oxmigrate_server name passes');
pass_ok(login(port => $P, path => '/both/login', user => 'a@ctx1.example.com'),
        'old cluster', 'first oxmigrate_server name passes');

# --- server names are compared whole
oxerror_ok(login(port => $P, user => 'g@ctx7.example.com'), 'LGI-0016',
           [$URL], 'oxserver-old does not match oxserver-old2: elsewhere');
oxerror_ok(login(port => $S, user => 'g@ctx7.example.com'), 'CTX-0012',
           [7, 10], 'secondary: oxserver-old2 is not its server either');

# --- nested location with oxmigrate off
oxerror_ok(login(port => $P, path => '/inherit/login',
                 user => 'dave@ctx4.example.com'),
           'LGI-0016', [$URL], 'outer location routes');
pass_ok(login(port => $P, path => '/inherit/off/login',
              user => 'dave@ctx4.example.com'),
        'old cluster', 'oxmigrate off: passes');
pass_ok(login(port => $P, path => '/other/login',
              user => 'dave@ctx4.example.com'),
        'old cluster', 'location without oxmigrate: passes');

# --- requests that are not logins pass untouched
pass_ok(OxTest::http(GET => '/ajax/login?action=logout&name=dave%40ctx4.example.com',
                     port => $P),
        'old cluster', 'action=logout passes');
pass_ok(OxTest::http(GET => '/ajax/folders?action=list', port => $P),
        'old cluster', 'other module passes');
pass_ok(OxTest::http(GET => '/ajax/login', port => $P),
        'old cluster', 'no action passes');
pass_ok(OxTest::http(POST => '/ajax/login?actionx=login', port => $P,
                     body => 'name=dave%40ctx4.example.com'),
        'old cluster', 'argument "actionx" is not "action"');
pass_ok(OxTest::http(POST => '/ajax/login?xaction=login', port => $P,
                     body => 'name=dave%40ctx4.example.com'),
        'old cluster', 'argument "xaction" is not "action"');
pass_ok(OxTest::http(POST => '/ajax/login?action=LOGIN', port => $P,
                     body => 'name=dave%40ctx4.example.com'),
        'old cluster', 'action names are case sensitive, as on the node');
pass_ok(OxTest::http(PUT => '/ajax/login?action=login', port => $P,
                     body => 'name=dave%40ctx4.example.com'),
        'old cluster', 'PUT is not a login');
my $h = OxTest::http(HEAD => '/ajax/login?action=login&name=dave%40ctx4',
                     port => $P);
is($h->{headers}{'x-cluster'}, 'old', 'HEAD is not a login');

# the action in the query string is the one that counts; in a POST body
# it names nothing
pass_ok(OxTest::http(POST => '/ajax/login', port => $P,
                     body => 'action=login&name=dave%40ctx4.example.com'),
        'old cluster', 'POST action only in the body: not a login');

# a POST login names its user in the body only, never in the query
pass_ok(OxTest::http(POST => '/ajax/login?action=login&name=dave%40ctx4.example.com',
                     port => $P, body => 'password=x'),
        'old cluster', 'POST: name in the query string is ignored');
oxerror_ok(OxTest::http(POST => '/ajax/login?action=login&name=alice%40ctx1.example.com',
                        port => $P, body => 'name=dave%40ctx4.example.com'),
           'LGI-0016', [$URL], 'POST: the body wins over the query');

# a POST that is not a form carries no login name
pass_ok(OxTest::http(POST => '/ajax/login?action=login', port => $P,
                     headers => { 'Content-Type' => 'application/json' },
                     body => '{"name":"dave@ctx4.example.com"}'),
        'old cluster', 'JSON body: passes');
oxerror_ok(OxTest::http(POST => '/ajax/login?action=login', port => $P,
                        headers => { 'Content-Type' =>
                            'application/x-www-form-urlencoded; charset=UTF-8' },
                        body => 'name=dave%40ctx4.example.com'),
           'LGI-0016', [$URL], 'form content type with charset');
pass_ok(OxTest::http(POST => '/ajax/login?action=login', port => $P,
                     headers => { 'Content-Type' =>
                         'application/x-www-form-urlencodedX' },
                     body => 'name=dave%40ctx4.example.com'),
        'old cluster', 'a media type that only begins like a form: passes');
oxerror_ok(OxTest::http(POST => '/ajax/login?action=login', port => $P,
                        headers => { 'Content-Type' =>
                            'Application/X-WWW-Form-Urlencoded' },
                        body => 'name=dave%40ctx4.example.com'),
           'LGI-0016', [$URL], 'form content type in any case');

# the usual App Suite login body: name between other fields
oxerror_ok(OxTest::http(POST => '/appsuite/api/login?action=login&authId=5c1a&language=de_DE',
                        port => $P,
                        body => 'rampup=true&rampUpFor=open-xchange-appsuite'
                                . '&name=dave%40ctx4.example.com&password=x%26y'
                                . '&client=open-xchange-appsuite&version=8.20'
                                . '&timeout=10000&staySignedIn=true'),
           'LGI-0016', [$URL], 'full App Suite login body');

# --- the configdb is read on every login (no cache configured)
$db->do('UPDATE context_server2db_pool SET server_id = 2 WHERE cid = 4');
pass_ok(login(port => $P, user => 'dave@ctx4.example.com'), 'old cluster',
        'moved back: passes at once without a cache');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');

# --- error_id is unique
my %ids;
for (1 .. 50) {
    my $j = OxTest::json(login(port => $S, user => 'alice@ctx1.example.com')->{body});
    $ids{ $j->{error_id} // 'none' }++ if $j;
}
is(scalar(keys %ids), 50, '50 CTX-0012 answers, 50 different error_ids');
ok(!$ids{none}, 'every answer has an error_id');

# --- the URL is JSON-escaped in LGI-0016
for my $u ('a"b', 'a\\b', 'x%22y', "\xc3\xa4\xc3\xb6", '</script>') {
    my $url = "https://x.example.com/?u=$u";
    my $r = OxTest::http(POST => "/esc/login?action=login&u=$u", port => $P,
                         body => 'name=d%40ctx4.example.com');
    my $j = OxTest::json($r->{body});
    utf8::decode($url);
    is($j && $j->{error_params}[0], $url, "LGI-0016 URL with $u, escaped");
}
# raw bytes that are not UTF-8 (nginx passes them into \$arg_u): still
# valid JSON
$r = OxTest::http(POST => "/esc/login?action=login&u=\xe4\xf6\xff",
                     port => $P, body => 'name=d%40ctx4.example.com');
ok(OxTest::json($r->{body}), 'LGI-0016 with non-UTF-8 bytes from a '
                             . 'variable: still valid JSON')
    or diag $r->{raw};

# --- oxmigrate_server names a server registered later (ctx5 is on id 9)
oxerror_ok(login(port => $P, path => '/late/login', user => 'e@ctx5.example.com'),
           'LGI-0016', [$URL], 'oxmigrate_server not registered yet: elsewhere');
$db->do("INSERT INTO server VALUES (9, 'oxserver-late', UNHEX(REPEAT('09', 16)))");
pass_ok(login(port => $P, path => '/late/login', user => 'e@ctx5.example.com'),
        'old cluster', 'registered now: the context is on this balancer');
oxerror_ok(login(port => $P, path => '/late/login', user => 'a@ctx1.example.com'),
           'LGI-0016', [$URL], '... and oxserver-old is elsewhere');

$ng->stop;
done_testing;
