#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# oxmigrate_identify basic share (issue 8): DAV, ActiveSync and WebDAV
# requests name their context with HTTP Basic on every request, share links
# inside their token (ox-facts 8).  On both balancers: which cluster
# answers (transparent routing by map $oxmigrate_decision + proxy_pass),
# 302 for a moved share link on the primary, 503 + Retry-After for a schema
# in maintenance, on_error, the body streamed unread, no password anywhere.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use MIME::Base64 qw(encode_base64);
use Test::More;
use OxTest qw(login redirect_ok);

my $db = OxTest::db('identify');
$db->load('demo.sql');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');
$db->do('UPDATE context SET enabled = 0, reason_id = 1431655765 WHERE cid = 5');
$db->do('UPDATE context SET enabled = 0, reason_id = 7 WHERE cid = 6');

my $redis = OxTest::redis();
my $old = OxTest::echo_backend(name => 'old');
my $new = OxTest::echo_backend(name => 'new');

my $SECRET = 'S3cr3t-Pw';

my $dav = <<'LOC';
            oxmigrate on;
            oxmigrate_identify basic;
            proxy_request_buffering off;
            proxy_http_version 1.1;
            client_max_body_size 10m;
            add_header X-Decision $oxmigrate_decision always;
            add_header X-Context $oxmigrate_context_id always;
LOC

my $ng = OxTest::nginx(<<"EOF", db => $db, redis => $redis, debug => 1,
    @{[ $db->directive ]}
    oxmigrate_redis host=127.0.0.1 port=%%REDIS_PORT%%;
    oxmigrate_cache zone=oxt_identify:1m ttl=30s negative_ttl=5s;

    upstream old { server 127.0.0.1:%%OLD%%; }
    upstream new { server 127.0.0.1:%%NEW%%; }
    upstream misdirected { server 127.0.0.1:%%PORT_MIS%%; }

    # primary: a moved context's DAV request goes to the new cluster
    map \$oxmigrate_decision \$primary_cluster {
        redirect  new;
        default   old;
    }
    # secondary: a context still on the old cluster is not ours (421)
    map \$oxmigrate_decision \$secondary_cluster {
        ctx0012   misdirected;
        default   new;
    }

    server {
        listen 127.0.0.1:%%PORT_MIS%%;
        location / { return 421 "misdirected\\n"; }
    }

    server {
        listen 127.0.0.1:%%PORT_P%%;
        oxmigrate_server oxserver-old;
        oxmigrate_redirect_url http://upgrade.example.com;
        oxmigrate_retry_after 45s;

        location /servlet/dav/ {
$dav
            proxy_pass http://\$primary_cluster;
        }
        location /Microsoft-Server-ActiveSync {
$dav
            proxy_pass http://\$primary_cluster;
        }
        location /fail/ {
$dav
            oxmigrate_on_error fail;
            proxy_pass http://\$primary_cluster;
        }
        location /ajax/share/ {
            oxmigrate on;
            oxmigrate_identify share;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://old;
        }
        location /nomaint/ {
            oxmigrate on;
            oxmigrate_identify basic share;
            oxmigrate_maintenance off;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://old;
        }
        location /rq/ {
            oxmigrate on;
            oxmigrate_identify login share;
            oxmigrate_redirect_url https://upgrade.example.com\$request_uri;
            proxy_pass http://old;
        }
        location /rq2/ {
            oxmigrate on;
            oxmigrate_identify share;
            oxmigrate_redirect_url \$scheme://upgrade.example.com:8443\$uri\$is_args\$args;
            proxy_pass http://old;
        }
        location /rq3/ {
            oxmigrate on;
            oxmigrate_identify share;
            oxmigrate_redirect_url https://upgrade.example.com/ox/;
            proxy_pass http://old;
        }
        location /appsuite/api/ {
            oxmigrate on;
            oxmigrate_identify login basic share;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://\$primary_cluster/ajax/;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_S%%;
        oxmigrate_server oxserver-xyz;

        location /servlet/dav/ {
$dav
            proxy_pass http://\$secondary_cluster;
        }
        location /ajax/share/ {
            oxmigrate on;
            oxmigrate_identify share;
            add_header X-Decision \$oxmigrate_decision always;
            proxy_pass http://\$secondary_cluster;
        }
    }
EOF
    vars => { OLD => $old->port, NEW => $new->port });
my ($P, $S) = ($ng->port('P'), $ng->port('S'));

sub basic { 'Basic ' . encode_base64("$_[0]:" . ($_[1] // $SECRET), '') }

sub req {
    my ($port, $method, $path, %o) = @_;
    my %h = %{ $o{headers} // {} };
    $h{Authorization} = basic($o{user}) if defined $o{user};
    return OxTest::http($method => $path, port => $port, headers => \%h,
                        body => $o{body});
}

sub cluster_ok {
    my ($r, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $got = $r->{status} == 421 ? 'misdirected'
            : ($r->{headers}{'x-backend'} // "status $r->{status}");
    is($got, $want, $name) or diag(substr($r->{raw}, 0, 400));
}

# ---------------------------------------------------------- HTTP Basic

my $PROPFIND = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop>'
               . '<d:displayname/></d:prop></d:propfind>';

for my $m (['PROPFIND', $PROPFIND], ['REPORT', $PROPFIND], ['GET', undef],
           ['DELETE', undef])
{
    my ($method, $body) = @$m;
    my %b = (body => $body, headers => { 'Content-Type' => 'text/xml' });
    my $r = req($P, $method, '/servlet/dav/caldav/1', user => 'a@ctx4.example.com', %b);
    cluster_ok($r, 'new', "primary $method, moved context: the new cluster");
    is($r->{headers}{'x-decision'}, 'redirect', "... decision redirect, no HTTP redirect")
        if $method eq 'PROPFIND';
    cluster_ok(req($P, $method, '/servlet/dav/caldav/1', user => 'a@ctx1.example.com', %b),
               'old', "primary $method, local context: the old cluster");
    cluster_ok(req($S, $method, '/servlet/dav/caldav/1', user => 'a@ctx4.example.com', %b),
               'new', "secondary $method, its own context: the new cluster");
    cluster_ok(req($S, $method, '/servlet/dav/caldav/1', user => 'a@ctx1.example.com', %b),
               'misdirected', "secondary $method, old context: ctx0012, the site's 421");
}

# the body is forwarded byte for byte
my $bin = join '', map { chr($_ % 256) } 0 .. 70000;
my $r = req($P, 'PUT', '/servlet/dav/webdav/file.bin', user => 'a@ctx4.example.com',
            body => $bin, headers => { 'Content-Type' => 'application/octet-stream' });
ok($r->{headers}{'x-backend'} eq 'new'
   && $r->{headers}{'x-body-md5'} eq md5_hex($bin), 'PUT 70 kB binary: new cluster, byte for byte');
my $wbxml = "\x03\x01\x6a\x00\x45\x5c\x4f\x50\x03Email\x00\x01\x01\x01" x 50;
$r = req($P, 'POST', '/Microsoft-Server-ActiveSync?Cmd=Sync&User=a&DeviceId=X&DeviceType=iPhone',
         user => 'a@ctx4.example.com', body => $wbxml,
         headers => { 'Content-Type' => 'application/vnd.ms-sync.wbxml' });
ok($r->{headers}{'x-backend'} eq 'new'
   && $r->{headers}{'x-body-md5'} eq md5_hex($wbxml), 'EAS POST WBXML: new cluster, body intact');

# a large PUT streams: the backend sees its head before the body is sent
my $big = 'z' x 2_000_000;
my $head = "PUT /servlet/dav/webdav/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         . 'Authorization: ' . basic('a@ctx4.example.com') . "\r\n"
         . "Content-Length: " . length($big) . "\r\n\r\n";
# prime the cache, so only the body's path is measured
req($P, 'OPTIONS', '/servlet/dav/', user => 'a@ctx4.example.com');
my $early;
$r = OxTest::http_raw($P, $head . $big, pieces => [length($head) + 1000],
    pause => sub { $early = OxTest::wait_for(sub {
        grep { $_ eq 'PUT /servlet/dav/webdav/big.bin' } $new->heads }, 3) });
ok($early, 'a 2 MB PUT reaches the backend before its body is complete (unread)');
is($r->{headers}{'x-body-md5'}, md5_hex($big), '... and arrives whole');

# what passes untouched
for my $c (['no Authorization', {}],
           ['Bearer token', { Authorization => 'Bearer eyJhbGciOi.x.y' }],
           ['Digest', { Authorization => 'Digest username="a@ctx4.example.com"' }],
           ['malformed base64', { Authorization => 'Basic !!!not base64!!!' }],
           ['base64 with a bad byte', { Authorization => "Basic YUBjdHg0\xff" }],
           ['no colon', { Authorization => 'Basic ' . encode_base64('a@ctx4.example.com', '') }],
           ['empty', { Authorization => 'Basic ' }])
{
    my ($what, $h) = @$c;
    my $x = req($P, 'OPTIONS', '/servlet/dav/', headers => $h);
    cluster_ok($x, 'old', "$what: passes to the old cluster");
}

# user names: the last '@' counts; % ' UTF-8 are plain bytes
for my $u ('a@b@ctx4.example.com', "o'neil\@ctx4.example.com", '100%@ctx4.example.com',
           "j\xc3\xb6rg\@ctx4.example.com", 'A@CTX4.Example.COM', 'x@ctx4.example.com  ')
{
    cluster_ok(req($P, 'PROPFIND', '/servlet/dav/', user => $u), 'new',
               "user '$u': moved context found");
}
for my $u ("a\@ctx4.example.com'--", 'a@%', "a\@\xc3(", 'nodomain') {
    cluster_ok(req($P, 'PROPFIND', '/servlet/dav/', user => $u), 'old',
               "user '$u': unknown, passes");
}

# maintenance and other disabled contexts
for my $port ($P, $S) {
    my $x = req($port, 'PROPFIND', '/servlet/dav/', user => 'a@ctx5.example.com');
    ok($x->{status} == 503 && ($x->{headers}{'retry-after'} // '') eq ($port == $P ? 45 : 30)
       && $x->{headers}{'content-type'} =~ m{^text/plain}
       && $x->{body} =~ /down for maintenance/, "port $port: schema maintenance: 503 text, Retry-After")
        or diag($x->{raw});
}
cluster_ok(req($P, 'PROPFIND', '/servlet/dav/', user => 'a@ctx6.example.com'), 'old',
           'disabled for another reason: passes');

# logins still work on a location that identifies all three
like(login(port => $P, path => '/appsuite/api/login', user => 'a@ctx4.example.com')->{body},
     qr/"code":"LGI-0016"/, 'login basic share: a login is still a login (LGI-0016)');
cluster_ok(req($P, 'GET', '/appsuite/api/folders?action=list', user => 'a@ctx4.example.com'),
           'new', 'login basic share: a Basic API request goes to the new cluster');

# --------------------------------------------------------------- shares

sub token {
    my ($cid, $upper) = @_;
    my $r1 = 0x1a2b3c4;                       # t[16:23], 7 digits
    my $t = sprintf('%08x', $cid ^ $r1) . 'deadbeef' . sprintf('%07x', $r1)
            . ('5' x 25);
    return $upper ? uc $t : $t;
}
is(length(token(4)), 48, 'a token has 48 hex digits');

$r = req($P, 'GET', '/ajax/share/' . token(4) . '/folder/file.txt?delivery=view');
redirect_ok($r, 302, 'http://upgrade.example.com/ajax/share/' . token(4) . '/folder/file.txt',
            'primary: a moved context\'s share link: 302 + path, no query');
$r = req($P, 'GET', '/ajax/share/' . token(4, 1));
redirect_ok($r, 302, 'http://upgrade.example.com/ajax/share/' . token(4, 1),
            'primary: upper-case hex token');
$r = req($P, 'GET', '/appsuite/api/share/' . token(4));
redirect_ok($r, 302, 'http://upgrade.example.com/appsuite/api/share/' . token(4),
            'primary: /appsuite/api/share/ too');
cluster_ok(req($P, 'GET', '/ajax/share/' . token(1)), 'old', 'primary: a local context\'s share passes');
cluster_ok(req($P, 'GET', '/ajax/share/' . token(999)), 'old', 'primary: an unknown cid passes');
for my $bad (substr(token(4), 0, 47), 'g' . substr(token(4), 1), 'abc', '') {
    cluster_ok(req($P, 'GET', "/ajax/share/$bad"), 'old', "primary: not a token ('$bad') passes");
}
$r = req($P, 'GET', '/ajax/share/' . token(5));
is($r->{status}, 503, 'primary: a share in maintenance: 503');
cluster_ok(req($S, 'GET', '/ajax/share/' . token(4) . '/x'), 'new', 'secondary: its own context\'s share passes');
$r = req($P, 'GET', '/nomaint/share/' . token(5));
cluster_ok($r, 'old', 'oxmigrate_maintenance off: a share in maintenance passes to the node');
is($r->{headers}{'x-decision'}, 'maintenance', '... $oxmigrate_decision still says what configdb decided');
cluster_ok(req($P, 'PROPFIND', '/nomaint/dav/', user => 'x@ctx5.example.com'), 'old',
           'oxmigrate_maintenance off: a DAV request in maintenance passes too');
redirect_ok(req($P, 'GET', '/nomaint/share/' . token(4)), 302,
            'http://upgrade.example.com/nomaint/share/' . token(4),
            'oxmigrate_maintenance off: a moved share is still redirected');
# the redirect URL with variables (issue 17 d): no query, no path twice
$r = req($P, 'GET', '/rq/share/' . token(4) . '/f?session=SECRET&x=1');
redirect_ok($r, 302, 'https://upgrade.example.com/rq/share/' . token(4) . '/f',
            'https://host$request_uri: the share Location has the path once, no query');
unlike($r->{headers}{location} // '', qr/SECRET/, '... the session is not in it');
$r = req($P, 'GET', '/rq2/share/' . token(4) . '/a%20b?delivery=view');
redirect_ok($r, 302, 'http://upgrade.example.com:8443/rq2/share/' . token(4) . '/a%20b',
            '$scheme://host:port$uri$is_args$args: the origin, the path as sent');
$r = req($P, 'GET', '/rq3/share/' . token(4) . '?x=1');
redirect_ok($r, 302, 'https://upgrade.example.com/ox/rq3/share/' . token(4),
            'a URL without variables keeps its path prefix');
cluster_ok(req($S, 'GET', '/ajax/share/' . token(1)), 'misdirected', 'secondary: old context\'s share: ctx0012');

my @keys = $redis->cmd('KEYS', '*');
ok((grep { $_ eq 'oxmigrate:v0#cid:4' } @keys), 'the cid lookup has its own Redis key space')
    or diag("@keys");
ok(!grep({ /\Q$SECRET\E/ } @keys, map { $redis->cmd('GET', $_) } grep { !/epoch/ } @keys),
   'no password in Redis');

# ------------------------------------------------------- lookup failure

my $dead = OxTest::free_port();
my $ng2 = OxTest::nginx(<<"EOF", db => $db,
    oxmigrate_db host=127.0.0.1 port=$dead user=root password= database=x
                 connect_timeout=300ms timeout=300ms;
    server {
        listen 127.0.0.1:%%PORT_E%%;
        oxmigrate_server oxserver-old;
        location /pass/ {
            oxmigrate on; oxmigrate_identify basic share;
            proxy_pass http://127.0.0.1:%%OLD%%;
        }
        location /fail/ {
            oxmigrate on; oxmigrate_identify basic share; oxmigrate_on_error fail;
            proxy_pass http://127.0.0.1:%%OLD%%;
        }
    }
EOF
    vars => { OLD => $old->port });
my $E = $ng2->port('E');
cluster_ok(req($E, 'PROPFIND', '/pass/dav/', user => 'a@ctx4.example.com'), 'old',
           'configdb down, on_error pass: passes');
$r = req($E, 'PROPFIND', '/fail/dav/', user => 'a@ctx4.example.com');
ok($r->{status} == 503 && $r->{headers}{'retry-after'} && $r->{body} =~ /not available/,
   'configdb down, on_error fail: 503 text with Retry-After') or diag($r->{raw});
is(req($E, 'GET', '/fail/share/' . token(4))->{status}, 503,
   'configdb down, on_error fail: a share link 503');
$ng2->stop;

$ng->stop;
my $logs = $ng->error_log . $ng->access_log;
ok(length($ng->error_log) > 1000 && index($logs, $SECRET) < 0,
   'the password is in no log (debug level error log checked)');

done_testing;
