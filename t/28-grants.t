#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Least privilege (issue 17 e): the GRANTs README documents, run as they
# are (only the database name and the hosts replaced).  The router works
# with its SELECT-only user (lookups, the change log) and cannot write;
# the admin API writes with its own user (oxmigrate_admin_db), and the
# router follows its changes through the change log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use OxTest qw(login);
use OxAdmin;

my $my = OxTest::mariadb_private();
my $db = $my->db('grants');
my $site = OxAdmin::site('grants', db => $db, schemas => 1, contexts => 2);
$db->load('changelog.sql');
my $name = $db->name;
my $s = $site->{schemas}[0];

# the GRANTs exactly as README gives them
my $readme = OxTest::_slurp(OxTest::root() . '/README.md');
my ($block) = $readme
    =~ /\*\*Database users: least privilege\.\*\*.*?```sql\n(.*?)```/s;
ok($block, 'README has the GRANTs');
(my $sql = $block // '') =~ s/^\s*--.*\n//mg;
my @stmts = grep { /\S/ } split /;\s*\n/, $sql;
is(scalar(grep { /^GRANT/ } @stmts), 6, 'six GRANT statements');
for my $st (@stmts) {
    $st =~ s/\bconfigdb\./`$name`./g;
    $st =~ s/'10\.20\.0\.%'|'127\.0\.0\.1'/'%'/g;
    $db->do("$st;");
}
my ($router, $admin) = ('oxmigrate_router', 'oxmigrate_admin');

sub as_user {
    my ($user, $pw, $sql) = @_;
    my @c = ('mariadb', '--no-defaults', "-u$user", "-p$pw", '-h127.0.0.1',
             '-P' . $my->port, '--batch', "--database=$name", '-e', $sql);
    my $out = `@{[ join ' ', map { "'$_'" } @c ]} 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = as_user($router, 'db secret',
                         'UPDATE context SET enabled = 0 WHERE cid = 1');
isnt($rc, 0, 'the router\'s user cannot write');
like($out, qr/denied/, '... denied');
($rc, $out) = as_user($router, 'db secret', 'SELECT COUNT(*) FROM db_pool');
isnt($rc, 0, '... nor read what it does not need (db_pool: passwords)');

my $port = $my->port;
my $conf = OxAdmin::admin_conf($site);
$conf =~ s{oxmigrate_db [^;]*;}{
    oxmigrate_db host=127.0.0.1 port=$port user=$router "password=db secret"
                 database=$name timeout=1s;
    oxmigrate_admin_db host=127.0.0.1 port=$port user=$admin
                 "password=admin db secret" database=$name;
    oxmigrate_cache zone=oxt_grants:1m ttl=60s negative_ttl=60s;
}x or die 'no oxmigrate_db in the admin conf';
$conf .= OxTest::standins() . <<"EOF";
    server {
        listen 127.0.0.1:%%PORT_P%%;
        location /ajax/ {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://upgrade.example.com/;
            proxy_pass http://127.0.0.1:%%PORT_OLD%%;
        }
    }
EOF
my $ng = OxTest::nginx($conf, db => $db,
                       main => 'thread_pool oxmigrate threads=4;');
my $P = $ng->port('P');

sub answer {
    my $r = login(port => $P, user => 'u@ctx1.example.com');
    return 'pass' if $r->{body} eq "old cluster\n";
    my $j = OxTest::json($r->{body});
    return $j && $j->{code} ? $j->{code} : "status $r->{status}";
}

is(answer(), 'pass', 'router with SELECT only: a login passes');
ok(OxTest::wait_for(sub {
       $ng->error_log =~ /following the configdb change log/ }, 10),
   'router with SELECT only: it follows the change log');

my $r = OxAdmin::api($ng, POST => 'servers', json => { name => 'oxserver-g' });
is($r->{status}, 201, 'admin API, its own user: POST /servers writes')
    or diag explain $r->{json};
$r = OxAdmin::api($ng, POST => "schemas/$s/disable");
is($r->{status}, 200, 'admin API: disable writes') or diag explain $r->{json};
is($r->{json}{cache_invalidation}, 'change log',
   '... and sees the change log (without TRIGGER)');
ok(OxTest::wait_for(sub { answer() eq 'CTX-0007' }, 2),
   'the router follows the admin\'s write within 2 s');
$r = OxAdmin::api($ng, POST => "schemas/$s/enable");
is($r->{status}, 200, 'admin API: enable');
ok(OxTest::wait_for(sub { answer() eq 'pass' }, 2), '... passes again');
unlike($ng->error_log, qr/denied/i, 'no access denied anywhere');
is($db->value("SELECT COUNT(*) FROM oxmigrate_audit WHERE user IS NOT NULL"),
   3, 'three audit rows written by the admin user');

done_testing();
