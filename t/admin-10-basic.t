#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The admin API's configdb endpoints (registerserver, listdatabaseschema,
# disableschema, enableschema, changeserver), authentication, routing and
# the audit trail, with their failure paths.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest;
use OxAdmin;
use MIME::Base64 ();

my $site = OxAdmin::site('adm_basic', schemas => 2, contexts => 3);
my ($s1, $s2) = @{ $site->{schemas} };
my $db = $site->{db};
my $ng = OxAdmin::nginx($site);

sub api { OxAdmin::api($ng, @_) }

# ------------------------------------------------------------ auth, routing

my $r = api(GET => 'servers', auth => 0);
is($r->{status}, 401, 'no credentials: 401');
like($r->{headers}{'www-authenticate'} // '', qr/Basic/, 'asks for Basic');

$r = api(GET => 'servers', pass => 'wrong');
is($r->{status}, 401, 'wrong password: 401');

$r = api(GET => 'nothing/here');
is($r->{status}, 404, 'unknown endpoint: 404');
is($r->{json}{error}{code}, 'not_found', 'JSON error body');

$r = api(DELETE => 'servers');
is($r->{status}, 405, 'wrong method: 405');

# ------------------------------------------------------------ servers

$r = api(GET => 'servers');
is($r->{status}, 200, 'GET servers');
is_deeply($r->{json}, { servers => [ { id => 2, name => 'oxserver-old' },
                                     { id => 8, name => 'oxserver-xyz' } ] },
          'the two servers');

$r = api(POST => 'servers', json => { name => 'oxserver-new' });
is($r->{status}, 201, 'registerserver: 201');
is($r->{json}{id}, 101, 'id from configdb_sequence');
is($r->{json}{name}, 'oxserver-new', 'name echoed');
is($db->value("SELECT server_id FROM server WHERE name = 'oxserver-new'"),
   101, 'row in server');
is($db->value('SELECT id FROM configdb_sequence'), 101, 'sequence advanced');

$r = api(POST => 'servers', json => { name => 'oxserver-new' });
is($r->{status}, 409, 'existing name: 409');
is($r->{json}{id}, 101, 'with its id');
is($r->{json}{error}{code}, 'server_exists', 'code server_exists');

# ------------------------------------------------------------ schemas

$r = api(GET => 'schemas');
is($r->{status}, 200, 'GET schemas');
my @s = @{ $r->{json}{schemas} // [] };
is(scalar @s, 2, 'two schemas');
is($s[0]{name}, $s1, 'ordered by name');
is($s[0]{contexts}, 3, 'contexts counted');
is($s[0]{enabled}, 3, 'all enabled');
is($s[0]{maintenance}, 0, 'none in maintenance');
is_deeply($s[0]{server_ids}, [2], 'on server 2');
is($s[0]{db_pool_id}, 3, 'db_pool_id');
like($s[0]{host}, qr/^127\.0\.0\.1:\d+$/, 'host from the JDBC URL');
is($s[0]{status}, 'needs update', 'three example tasks pending');

# ------------------------------------------------------------ disable

$db->do('UPDATE context SET enabled = 0, reason_id = 7 WHERE cid = 3');

$r = api(POST => "schemas/$s1/disable");
is($r->{status}, 200, 'disableschema');
is_deeply([ @{ $r->{json} }{qw(schema contexts)} ], [ $s1, 2 ],
          'two contexts changed (one was disabled already)');
is_deeply($db->sql("SELECT cid, enabled, reason_id FROM context"
                   . " WHERE cid <= 3 ORDER BY cid"),
          [ [1, 0, 1431655765], [2, 0, 1431655765], [3, 0, 7] ],
          'reason 1431655765, the other reason kept');
is($db->value("SELECT COUNT(*) FROM context WHERE cid > 3 AND enabled = 1"),
   3, 'the other schema untouched');

$r = api(POST => "schemas/$s1/disable");
is($r->{status}, 200, 'disable again: idempotent');
is($r->{json}{contexts}, 0, 'nothing changed');

$r = api(GET => 'schemas');
is($r->{json}{schemas}[0]{maintenance}, 2, 'schemas shows maintenance');

# ------------------------------------------------------------ changeserver

$r = api(POST => "schemas/$s2/changeserver", json => { server_id => 8 });
is($r->{status}, 409, 'changeserver on an enabled schema: 409');
like($r->{json}{error}{message},
     qr/^The schema '\Q$s2\E' is not disabled\. The following contexts are still enabled: \[4, 5, 6\]$/,
     'OX message listing the enabled contexts');
is_deeply($r->{json}{enabled_contexts}, [4, 5, 6], 'and as numbers');

$r = api(POST => "schemas/$s1/changeserver", json => { server_id => 99 });
is($r->{status}, 404, 'unknown server id: 404');
is($r->{json}{error}{code}, 'unknown_server', 'unknown_server');

$r = api(POST => "schemas/$s1/changeserver", json => { server => 'nope' });
is($r->{status}, 404, 'unknown server name: 404');

$r = api(POST => "schemas/nope/changeserver", json => { server_id => 8 });
is($r->{status}, 404, 'unknown schema: 404');
is($r->{json}{error}{code}, 'unknown_schema', 'unknown_schema');

$r = api(POST => "schemas/$s1/changeserver", json => {});
is($r->{status}, 400, 'no server given: 400');

$r = api(POST => "schemas/$s1/changeserver",
         json => { server_id => 8, server => 'oxserver-xyz' });
is($r->{status}, 400, 'both given: 400');

$r = api(POST => "schemas/$s1/changeserver", json => { server => 'oxserver-xyz' });
is($r->{status}, 200, 'changeserver by name');
is($r->{json}{contexts}, 3, 'three rows moved');
is($r->{json}{server_id}, 8, 'to server 8');
is($db->value("SELECT GROUP_CONCAT(DISTINCT server_id)"
              . " FROM context_server2db_pool WHERE db_schema = '$s1'"),
   8, 'configdb rows moved');

# ------------------------------------------------------------ enable

$r = api(POST => "schemas/$s1/enable");
is($r->{status}, 200, 'enableschema');
is($r->{json}{contexts}, 2, 'the two maintenance contexts');
is_deeply($db->sql("SELECT cid, enabled, reason_id FROM context"
                   . " WHERE cid <= 3 ORDER BY cid"),
          [ [1, 1, undef], [2, 1, undef], [3, 0, 7] ],
          'context disabled for another reason stays disabled');

$r = api(POST => "schemas/$s1/enable");
is($r->{json}{contexts}, 0, 'enable again: idempotent');

$r = api(POST => "schemas/nope/enable");
is($r->{status}, 404, 'enable unknown schema: 404');

# ------------------------------------------------------------ bad input

$r = api(POST => 'servers', body => '{"name": ');
is($r->{status}, 400, 'malformed JSON: 400');
is($r->{json}{error}{code}, 'invalid_json', 'invalid_json');

$r = api(POST => 'servers', json => { name => 42 });
is($r->{status}, 400, 'wrong type: 400');
is($r->{json}{error}{code}, 'invalid_type', 'invalid_type');

$r = api(POST => 'servers', json => { name => 'x', admin => 1 });
is($r->{status}, 400, 'unknown field: 400');
is($r->{json}{error}{code}, 'unknown_field', 'unknown_field');

$r = api(POST => 'servers', body => '[1,2]');
is($r->{status}, 400, 'not an object: 400');

$r = api(POST => 'upgrade', json => { server => 'x', parallel => -1 });
is($r->{status}, 400, 'negative number: 400');

$r = api(POST => 'upgrade', json => { server => 'x', parallel => 1.5 });
is($r->{status}, 400, 'fraction: 400');

$r = api(POST => "schemas/$s1/disable", json => { force => JSON::PP::true });
is($r->{status}, 400, 'a body field where none is accepted: 400');

my $big = '{"name":"' . ('x' x (10 * 1024 * 1024)) . '"}';
my $t0 = time;
$r = api(POST => 'servers', body => $big, timeout => 30);
is($r->{status}, 400, '10 MB body: 400');
is($r->{json}{error}{code}, 'body_too_large', 'body_too_large');
is($db->value("SELECT COUNT(*) FROM server"), 3, 'nothing registered');

# chunked: no length to check first, counted while read, never buffered
my $auth = 'Basic ' . MIME::Base64::encode_base64(
    "$OxAdmin::USER:$OxAdmin::PASS", '');
my $chunk = 'x' x (1024 * 1024);
my $req = "POST /oxmigrate/v1/servers HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: $auth\r\nContent-Type: application/json\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        . sprintf("%x\r\n%s\r\n", 9, '{"name":"')
        . join('', map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) }
                   1 .. 10)
        . "2\r\n\"}\r\n0\r\n\r\n";
$r = OxTest::http_raw($ng->port('A'), $req, timeout => 30);
is($r->{status}, 400, '10 MB chunked body: 400');
is((OxTest::json($r->{body}) // {})->{error}{code}, 'body_too_large',
   'body_too_large');

$r = OxTest::http_raw($ng->port('A'),
    "POST /oxmigrate/v1/servers HTTP/1.1\r\nHost: localhost\r\n"
    . "Authorization: $auth\r\nTransfer-Encoding: chunked\r\n"
    . "Connection: close\r\n\r\n"
    . "a\r\n{\"name\":\"c\r\n7\r\nhunked\"\r\n1\r\n}\r\n0\r\n\r\n");
is($r->{status}, 201, 'a small chunked body is read');
is((OxTest::json($r->{body}) // {})->{name}, 'chunked', 'in one piece');

# 40 KB: beyond nginx's default client_body_buffer_size, within the limit
$r = api(POST => 'servers', body => '{"name":"spilled"' . (' ' x 40000) . '}');
is($r->{status}, 201, 'a 40 KB body is read');
is($r->{json}{name}, 'spilled', 'whole');

my $evil = "x'; DROP TABLE context; --";
$r = api(POST => 'schemas/' . OxTest::uri_escape($evil) . '/disable');
is($r->{status}, 404, 'SQL in a schema name: 404');
like($r->{json}{error}{message}, qr/\Q$evil\E/, 'the name is data');
is($db->value("SELECT COUNT(*) FROM context"), 6, 'configdb intact');

$r = api(POST => 'servers', json => { name => $evil });
is($r->{status}, 201, 'a server name with SQL in it is just a name');
is($db->value("SELECT COUNT(*) FROM server WHERE name = "
              . $db->quote($evil)), 1, 'stored as is');

# ------------------------------------------------------------ audit

$r = api(GET => 'audit?limit=100');
is($r->{status}, 200, 'GET audit');
my @a = @{ $r->{json}{audit} // [] };
ok(@a >= 10, 'mutating calls audited (' . scalar(@a) . ')');
my ($dis) = grep { $_->{action} eq 'disableschema' && $_->{status} == 200 }
            @a;
ok($dis, 'disableschema audited');
is($dis->{user}, $OxAdmin::USER, 'with the user');
is_deeply($dis->{arguments}{params}, [$s1], 'and the schema');
is($dis->{result}{schema}, $s1, 'and the answer');
ok((grep { $_->{status} == 400 && $_->{action} eq 'registerserver' } @a),
   'rejected calls audited too');
ok(!(grep { $_->{action} =~ /^GET/ } @a), 'reads are not audited');

$r = api(GET => 'audit?limit=2');
is(scalar @{ $r->{json}{audit} }, 2, 'limit');

$r = api(GET => 'audit?limit=x');
is($r->{status}, 400, 'bad limit: 400');

$ng->stop;
done_testing();
