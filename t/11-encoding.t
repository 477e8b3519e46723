#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Login names as browsers and scripts encode them: %40, '+', UTF-8 (encoded
# and raw), and SQL/LIKE metacharacters (' \ % _ ") in the context part.
# The metacharacters are data: no injection, no LIKE matching.  Malformed
# encodings pass to the node (never a 500).
#
# Observed on a secondary balancer: a context found on the old server
# answers CTX-0012 with [cid, 2], which names exactly the context that
# matched; a context not found passes to "new cluster".

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest qw(login oxerror_ok pass_ok);

my $db = OxTest::db('encoding');
$db->load('demo.sql');

my %ctx = (
    10 => "o'brien.example.com",
    11 => 'back\\slash.example.com',
    12 => 'per%cent.example.com',
    13 => 'under_score.example.com',
    14 => "m\xc3\xbcller.example.com",                    # müller
    15 => 'space ctx',
    16 => 'dq"uote.example.com',
    17 => 'plus+sign.example.com',
    18 => "\xce\xb1\xce\xb2\xce\xb3.example.com",          # αβγ
    19 => "\xf0\x9f\x98\x80.example.com",                  # U+1F600
    20 => 'semi;colon&amp=x',
);
for my $cid (sort { $a <=> $b } keys %ctx) {
    $db->do("INSERT INTO context (cid, name, enabled) VALUES ($cid, 'c$cid', 1);
             INSERT INTO login2context VALUES ($cid, " . $db->quote($ctx{$cid}) . ");
             INSERT INTO context_server2db_pool VALUES (2, $cid, 3, 3, 'oxdatabase_7')");
}
is($db->value("SELECT cid FROM login2context WHERE login_info = "
              . $db->quote("m\xc3\xbcller.example.com")), 14,
   'UTF-8 login_info stored');

my $ng = OxTest::nginx(OxTest::standins() . <<"EOF", db => $db);
    @{[ $db->directive ]}
    server {
        listen 127.0.0.1:%%PORT_S%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }
    }
EOF
my $S = $ng->port('S');

sub found {
    my ($raw, $cid, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    oxerror_ok(login(port => $S, raw_user => $raw, %o), 'CTX-0012',
               [$cid, 2], $name);
}

sub unknown {
    my ($raw, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    pass_ok(login(port => $S, raw_user => $raw, %o), 'new cluster', $name);
}

# what the node would find for these bytes: the same query on the configdb
sub as_configdb {
    my ($raw, $bytes, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $cid = $db->value('SELECT cid FROM login2context WHERE login_info = X'
                         . $db->quote(unpack('H*', $bytes)));
    return found($raw, $cid, "$name (configdb: cid $cid)", %o) if $cid;
    return unknown($raw, "$name (configdb: no match)", %o);
}

for my $m (qw(POST GET)) {
    for my $a (qw(login formlogin)) {
        my %o = (method => $m, action => $a);
        my $t = "$m $a";

        found('alice%40ctx2.example.com', 2, "$t: %40", %o);
        found('alice@ctx2.example.com', 2, "$t: raw \@", %o);
        found('alice%40CTX2.example.com', 2,
              "$t: configdb collation decides case (as on the node)", %o);
        found('a%40b%40ctx4.example.com', 4, "$t: the last \@ counts", %o);
        found('a+b%40ctx2.example.com', 2, "$t: + in the user part", %o);
        found('alice%40space+ctx', 15, "$t: + is a space", %o);
        found('alice%40space%20ctx', 15, "$t: %20 is a space", %o);
        found('alice%40plus%2Bsign.example.com', 17, "$t: %2B is a +", %o);
        unknown('alice%40plus+sign.example.com', "$t: + is not %2B", %o);
        found('alice%40m%C3%BCller.example.com', 14, "$t: UTF-8 %C3%BC", %o);
        found('alice%40m%c3%bcller.example.com', 14,
              "$t: lower case hex", %o);
        found("alice\@m\xc3\xbcller.example.com", 14, "$t: raw UTF-8", %o)
            if $m eq 'POST';
        found('%CE%B1%40%CE%B1%CE%B2%CE%B3.example.com', 18,
              "$t: Greek user and context", %o);
        found('x%40%F0%9F%98%80.example.com', 19,
              "$t: 4-byte UTF-8 (utf8mb4)", %o);
        found('x%40o%27brien.example.com', 10, "$t: ' in the context", %o);
        found("x\@o'brien.example.com", 10, "$t: raw '", %o);
        found('x%40back%5Cslash.example.com', 11, "$t: \\ in the context", %o);
        found('x%40per%25cent.example.com', 12, "$t: % in the context", %o);
        found('x%40under_score.example.com', 13, "$t: _ in the context", %o);
        found('x%40dq%22uote.example.com', 16, "$t: \" in the context", %o);
        found('x%40semi%3Bcolon%26amp%3Dx', 20, "$t: ; & = encoded", %o);

        # LIKE metacharacters match only themselves
        unknown('x%40under%25', "$t: % is not a wildcard", %o);
        unknown('x%40%25', "$t: % alone", %o);
        unknown('x%40underXscore.example.com', "$t: _ is not a wildcard", %o);
        unknown('x%40_tx1.example.com', "$t: _tx1 is not ctx1", %o);
        unknown('x%40per_cent.example.com', "$t: _ does not match %", %o);

        # injection attempts are data
        unknown("x%40x'+OR+'1'%3D'1", "$t: ' OR '1'='1", %o);
        unknown('x%40ctx1.example.com%27+--+', "$t: ' -- ", %o);
        unknown('x%40x%5C%27+OR+1%3D1+--+', "$t: \\' OR 1=1", %o);
        unknown('x%40x%27%3B+DROP+TABLE+context%3B+--', "$t: DROP TABLE", %o);
        # a NUL is a character like any other; the configdb's collation
        # (utf8mb4_unicode_ci ignores U+0000) decides, as it does for the node
        as_configdb('x%40ctx1.example.com%00', "ctx1.example.com\0",
                    "$t: NUL at the end", %o);
        as_configdb('x%40ctx1%00.example.com', "ctx1\0.example.com",
                    "$t: NUL inside", %o);
        as_configdb('x%40ctx1%00a', "ctx1\0a", "$t: NUL, no match", %o);

        # malformed or unusable: passes, never a 500
        unknown('alice%40ctx2.example.com%', "$t: trailing %", %o);
        unknown('alice%40ctx2.example.com%4', "$t: truncated %4", %o);
        unknown('alice%ZZ%40ctx2.example.com', "$t: %ZZ", %o);
        unknown('alice%40ctx2.exam%G0ple.com', "$t: %G0", %o);
        unknown('alice%40%FF%FE.example.com', "$t: invalid UTF-8", %o);
        unknown('alice%40%C0%80.example.com', "$t: overlong UTF-8", %o);
        unknown('alice%40%ED%A0%80.example.com', "$t: UTF-16 surrogate", %o);
        unknown('alice%40', "$t: empty context part", %o);
        unknown('%40', "$t: only \@", %o);
        unknown('alice%40' . ('a' x 300), "$t: context part > 255", %o);
        unknown('alice%40' . ('%41' x 2000) . '.example.com',
                "$t: long encoded context part", %o);
    }
}

# the user part may be anything
found('a' x 3000 . '%40ctx2.example.com', 2, 'long user part');
unknown('a' x 20000 . '%40ctx2.example.com', 'very long login name');

# field names are exact
for my $f (qw(username xname nam names NAME)) {
    pass_ok(login(port => $S, body => "$f=a%40ctx2.example.com&password=x"),
            'new cluster', "field '$f' is not 'name'");
}
pass_ok(login(port => $S, action => 'formlogin',
              body => 'name=a%40ctx2.example.com&password=x'),
        'new cluster', "formlogin reads 'login', not 'name'");
found('a%40ctx2.example.com', 2, "login reads 'name'", field => 'name');
pass_ok(login(port => $S,
              body => 'password=p%26name%3Da%2540ctx2.example.com'),
        'new cluster', 'an encoded &name= inside another value is data');
oxerror_ok(login(port => $S, body => 'password=x&&name=a%40ctx2.example.com&'),
           'CTX-0012', [2, 2], 'empty fields around');

# configdb intact after all that
is($db->value('SELECT COUNT(*) FROM context'), 6 + keys %ctx,
   'table context intact');
is($db->value('SELECT COUNT(*) FROM login2context'), 19 + keys %ctx,
   'table login2context intact');

# no request made nginx answer 500
unlike($ng->access_log, qr/" 500 /, 'no 500 in the access log');

$ng->stop;
done_testing;
