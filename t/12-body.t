#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Request bodies: the module reads a login's form body in the access phase,
# and the proxied backend still receives it byte for byte: small bodies,
# bodies larger than client_body_buffer_size (spilled to a temporary file),
# client_body_in_file_only, bodies arriving in pieces, chunked bodies,
# unbuffered proxying, and non-login bodies the module never reads.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use Test::More;
use OxTest qw(login oxerror_ok);

my $db = OxTest::db('body');
$db->load('demo.sql');
# ctx4 lives on the upgraded server: its logins pass on this secondary
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');

my $echo = OxTest::echo_backend(name => 'new');

my $ng = OxTest::nginx(<<"EOF", db => $db, vars => { ECHO => $echo->port });
    @{[ $db->directive ]}
    server {
        listen 127.0.0.1:%%PORT_S%%;
        client_max_body_size 10m;

        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }

        location /small/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            client_body_buffer_size 1k;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }

        location /file/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            client_body_in_file_only clean;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }

        location /unbuffered/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            client_body_buffer_size 1k;
            proxy_request_buffering off;
            proxy_http_version 1.1;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }

        location /limit/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            client_max_body_size 1k;
            proxy_pass http://127.0.0.1:%%ECHO%%;
        }
    }
EOF
my $S = $ng->port('S');

# passes to the echo backend with exactly this body
sub echoed {
    my ($r, $body, $uri, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = ok($r->{status} == 200
                && ($r->{headers}{'x-backend'} // '') eq 'new'
                && ($r->{headers}{'x-uri'} // '') eq $uri
                && ($r->{headers}{'x-body-length'} // -1) == length($body)
                && ($r->{headers}{'x-body-md5'} // '') eq md5_hex($body)
                && $r->{body} eq $body, $name);
    diag("want $uri, " . length($body) . " bytes; got status $r->{status} "
         . join(' ', map { "$_: " . ($r->{headers}{$_} // '-') }
                qw(x-uri x-body-length content-type))
         . "\n" . substr($r->{raw}, 0, 600))
        unless $ok;
    return $ok;
}

my $junk = join '', map { chr } 0 .. 255;

for my $loc (qw(ajax small file unbuffered)) {
    my $uri = "/$loc/login?action=login";

    # a plain login that passes
    my $body = 'name=dave%40ctx4.example.com&password=secret'
               . '&client=open-xchange-appsuite';
    echoed(login(port => $S, path => "/$loc/login", body => $body),
           $body, $uri, "$loc: login passes, body intact");

    # other fields carry arbitrary bytes
    $body = "name=dave%40ctx4.example.com&password=$junk&x=%%%";
    echoed(login(port => $S, path => "/$loc/login", body => $body),
           $body, $uri, "$loc: binary bytes in other fields intact");

    # large, the login name last: the module has to read all of it
    my $pad = 'rampup=' . ('x' x 300_000);
    $body = "$pad&name=dave%40ctx4.example.com";
    echoed(login(port => $S, path => "/$loc/login", body => $body),
           $body, $uri, "$loc: 300 KB body, name last, passes intact");
    oxerror_ok(login(port => $S, path => "/$loc/login",
                     body => "$pad&name=alice%40ctx1.example.com"),
               'CTX-0012', [1, 2], "$loc: 300 KB body, name last, decided");
    oxerror_ok(login(port => $S, path => "/$loc/login",
                     body => "name=alice%40ctx1.example.com&$pad"),
               'CTX-0012', [1, 2], "$loc: 300 KB body, name first, decided");

    # arriving in pieces
    $body = 'password=secret&name=dave%40ctx4.example.com&client=x';
    echoed(login(port => $S, path => "/$loc/login", body => $body,
                 pieces => [150, 3, 7, 11, 5, 13]),
           $body, $uri, "$loc: body in pieces, intact");
    oxerror_ok(login(port => $S, path => "/$loc/login",
                     body => 'password=secret&name=alice%40ctx1.example.com',
                     pieces => [140, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
               'CTX-0012', [1, 2], "$loc: name split over packets, decided");

    # chunked
    my $chunked = "5\r\nname=\r\n10\r\nalice%40ctx1.exa\r\n"
                  . "b\r\nmple.com&p=\r\n1\r\nx\r\n0\r\n\r\n";
    oxerror_ok(OxTest::http(POST => $uri, port => $S, body => $chunked,
                            headers => { 'Transfer-Encoding' => 'chunked' }),
               'CTX-0012', [1, 2], "$loc: chunked body, decided");
    $chunked = "5\r\nname=\r\n10\r\ndave%40ctx4.exam\r\n"
               . "a\r\nple.com&p=\r\n1\r\nx\r\n0\r\n\r\n";
    echoed(OxTest::http(POST => $uri, port => $S, body => $chunked,
                        headers => { 'Transfer-Encoding' => 'chunked' }),
           'name=dave%40ctx4.example.com&p=x', $uri,
           "$loc: chunked body passes de-chunked, intact");

    # not a login: the body is the backend's business
    $body = join '', map { $junk } 1 .. 4000;     # 1 MB
    echoed(OxTest::http(POST => "/$loc/file?action=new", port => $S,
                        body => $body,
                        headers => { 'Content-Type' => 'application/octet-stream' }),
           $body, "/$loc/file?action=new", "$loc: 1 MB upload intact");
    $body = 'name=alice%40ctx1.example.com';
    echoed(OxTest::http(POST => "/$loc/login?action=logout", port => $S,
                        body => $body),
           $body, "/$loc/login?action=logout",
           "$loc: form body of a non-login intact, not decided");
}

# --- a request that is no login passes with its body unread.  With
# proxy_request_buffering off nginx forwards a request as soon as the
# access phase lets it go, before the client has sent all of its body; a
# module that read the body first would hold it back until the last byte.
# Each request sends its head and half of its body, waits until the
# backend has seen the head (at most 3 s), then sends the rest.
my $n_early = 0;
sub early {
    my ($method, $uri, $type, $body, $name, $login) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $uri .= ($uri =~ /\?/ ? '&' : '?') . 'n=' . ++$n_early;
    my $req = "$method $uri HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              . "Content-Type: $type\r\nContent-Length: " . length($body)
              . "\r\n\r\n";
    my $early;
    my $r = OxTest::http_raw($S, $req . $body,
        pieces => [length($req) + int(length($body) / 2)],
        pause => sub {
            # a login is held back: the backend must not see it in 1 s
            $early = OxTest::wait_for(sub {
                grep { $_ eq "$method $uri" } $echo->heads
            }, $login ? 1 : 3);
        });
    echoed($r, $body, $uri, "$name: passes, body intact");
    ok($login ? !$early : $early,
       $login ? "$name: held back until the module read the body"
              : "$name: forwarded before its body was complete (unread)");
}
my $form = 'name=dave%40ctx4.example.com&password=x&p=' . ('q' x 20000);
my $FORM = 'application/x-www-form-urlencoded';
early(POST => '/unbuffered/login?action=logout', $FORM, $form,
      'action=logout with a login form body');
early(POST => '/unbuffered/login', $FORM, $form, 'no action');
early(POST => '/unbuffered/login?action=LOGIN', $FORM, $form,
      'action=LOGIN (not a login action)');
early(PUT => '/unbuffered/login?action=login', $FORM, $form,
      'PUT action=login');
early(POST => '/unbuffered/file?action=new', 'application/octet-stream',
      $junk x 100, 'an upload');
early(POST => '/unbuffered/login?action=login', 'application/json',
      '{"name":"dave@ctx4.example.com","p":"' . ('q' x 20000) . '"}',
      'action=login with a JSON body (no form: no login name)');
# the control: a login's form body is read before the request goes on
early(POST => '/unbuffered/login?action=login', $FORM, $form,
      'action=login with a form body', 1);

# the field straddles the end of the in-memory buffer (1k) at every offset
my $fails = 0;
for my $off (990 .. 1040) {
    my $pad = 'p=' . ('y' x ($off - 2));
    my $r = login(port => $S, path => '/small/login',
                  body => "$pad&name=alice%40ctx1.example.com");
    my $j = OxTest::json($r->{body});
    $fails++ unless $j && ($j->{code} // '') eq 'CTX-0012';
}
is($fails, 0, 'name at offsets 990..1040 of a 1k buffer: all decided');

# too large a login body: nginx's own 413, not a 500
my $r = login(port => $S, path => '/limit/login',
              body => 'name=alice%40ctx1.example.com&p=' . ('z' x 5000));
is($r->{status}, 413, 'login body over client_max_body_size: 413');

# the client gives up in the middle of the body
for (1 .. 5) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $S)
        or die;
    print $s "POST /small/login?action=login HTTP/1.1\r\nHost: x\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . "Content-Length: 100000\r\n\r\nname=alice%40ctx";
    Time::HiRes::sleep(0.05);
    close $s;
}
oxerror_ok(login(port => $S, user => 'alice@ctx1.example.com'),
           'CTX-0012', [1, 2], 'still serving after clients gave up mid-body');

$ng->stop;
done_testing;
