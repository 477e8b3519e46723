#!/usr/bin/perl
# Configuration: the directives' parameters, the errors nginx -t reports,
# and the shipped conf.d/primary.conf and conf.d/secondary.conf (with the
# site's addresses replaced by loopback ones) working as a pair.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64 ();
use Test::More;
use OxTest qw(login oxerror_ok pass_ok redirect_ok);

my $db = OxTest::db('config');
$db->load('demo.sql');
$db->do('UPDATE context_server2db_pool SET server_id = 8 WHERE cid = 4');

my $DB = $db->directive;
my $LOC = 'server { listen 127.0.0.1:%%PORT_A%%; location / { '
          . 'oxmigrate on; oxmigrate_server oxserver-old; '
          . 'proxy_pass http://127.0.0.1:1; } }';

sub conf_ok {
    my ($conf, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = OxTest::nginx_check($conf, db => $db);
    is($rc, 0, $name) or diag $out;
}

sub conf_fails {
    my ($conf, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = OxTest::nginx_check($conf, db => $db);
    ok($rc != 0 && $out =~ $re, $name) or diag "rc $rc: $out";
}

# --- oxmigrate_db
conf_ok("$DB\n$LOC", 'oxmigrate_db with host, port, user, password=, database');
conf_ok("oxmigrate_db host=127.0.0.1 port=%%DB_PORT%% user=root password= "
        . "database=%%DB_NAME%% connect_timeout=500ms timeout=2s pool=16;\n$LOC",
        'all oxmigrate_db parameters');
conf_ok("oxmigrate_db socket=%%DB_SOCKET%% user=root database=%%DB_NAME%%;\n$LOC",
        'oxmigrate_db over the unix socket, without password=');
conf_ok("oxmigrate_db host=localhost user=root database=x;\n$LOC",
        'a host name is resolved at configuration time');
conf_ok(qq{oxmigrate_db host=127.0.0.1 user=root "password=db secret" }
        . qq{database=x;\n$LOC}, 'a quoted parameter with a space');
conf_fails("oxmigrate_db host=127.0.0.1 user=root database=x bogus=1;\n$LOC",
           qr/invalid parameter "bogus=1"/, 'unknown parameter');
conf_fails("oxmigrate_db host=127.0.0.1 port=0 user=root database=x;\n$LOC",
           qr/invalid parameter "port=0"/, 'port=0');
conf_fails("oxmigrate_db host=127.0.0.1 port=70000 user=root database=x;\n$LOC",
           qr/invalid parameter/, 'port=70000');
conf_fails("oxmigrate_db host=127.0.0.1 user=root database=x timeout=soon;\n$LOC",
           qr/invalid parameter "timeout=soon"/, 'bad timeout');
conf_fails("oxmigrate_db host=127.0.0.1 user=root database=x pool=0;\n$LOC",
           qr/invalid parameter "pool=0"/, 'pool=0');
conf_fails("oxmigrate_db host=127.0.0.1 database=x;\n$LOC",
           qr/oxmigrate_db/, 'user= missing');
conf_fails("oxmigrate_db host=127.0.0.1 user=root;\n$LOC",
           qr/oxmigrate_db/, 'database= missing');
conf_fails("oxmigrate_db user=root database=x;\n$LOC",
           qr/oxmigrate_db/, 'neither host= nor socket=');
conf_fails("oxmigrate_db host=no-such-host.invalid user=root database=x;\n$LOC",
           qr/no-such-host\.invalid/, 'a host that does not resolve');
conf_fails("$DB\n$DB\n$LOC", qr/duplicate/, 'oxmigrate_db twice');
conf_fails("server { listen 127.0.0.1:%%PORT_A%%; $DB }",
           qr/not allowed/, 'oxmigrate_db in a server block');

# --- socket= and a quoted password with a space, used for real: a login
# decided through each (the moved context ctx4 passes on this secondary,
# ctx1 gets CTX-0012; an unusable configdb would pass both as "error")
sub decided_through {
    my ($directive, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ng = OxTest::nginx(OxTest::standins() . <<"EOF", db => $db);
    $directive
    server {
        listen 127.0.0.1:%%PORT_A%%;
        location / {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            oxmigrate_on_error fail;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }
    }
EOF
    my $r = login(port => $ng->port('A'), user => 'a@ctx1.example.com');
    if ($o{fails}) {
        oxerror_ok($r, 'LGI-0005', undef, $name);
    } else {
        oxerror_ok($r, 'CTX-0012', [1, 2], $name);
        pass_ok(login(port => $ng->port('A'), user => 'd@ctx4.example.com'),
                'new cluster', "$name, a context on its server passes");
    }
    $ng->stop;
}
decided_through('oxmigrate_db socket=%%DB_SOCKET%% user=root '
                . 'database=%%DB_NAME%%;',
                'socket=: decided through the unix socket');
my $pwuser = 'oxt_config_pw';
$db->do("DROP USER IF EXISTS '$pwuser'\@'127.0.0.1';
         CREATE USER '$pwuser'\@'127.0.0.1' IDENTIFIED BY 'db secret';
         GRANT SELECT ON `" . $db->name . "`.* TO '$pwuser'\@'127.0.0.1'");
decided_through('oxmigrate_db host=127.0.0.1 port=%%DB_PORT%% '
                . qq{user=$pwuser "password=db secret" database=%%DB_NAME%%;},
                '"password=db secret": decided as that user');
decided_through('oxmigrate_db host=127.0.0.1 port=%%DB_PORT%% '
                . qq{user=$pwuser "password=db secreT" database=%%DB_NAME%%;},
                'a wrong password: the login fails (on_error fail)',
                fails => 1);
$db->do("DROP USER IF EXISTS '$pwuser'\@'127.0.0.1'");

# --- host names are resolved at configuration time, never on a request.
# A shim preloaded into nginx notes every getaddrinfo()/gethostbyname()
# with the caller's pid: the configuration is read by the process nginx
# was started as, logins run in the workers.  Both oxmigrate_db and
# oxmigrate_redis name "localhost"; the workers must only ever pass
# numeric addresses to the client libraries.
SKIP: {
    my $dir = OxTest::tmpdir();
    my $src = "$dir/resolve-shim.c";
    OxTest::_spew($src, <<'C');
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* nginx workers drop the environment: read it when loaded */
static char  log_path[4096];

__attribute__((constructor)) static void
shim_init(void)
{
    const char  *p = getenv("OXT_RESOLVE_LOG");

    if (p) {
        snprintf(log_path, sizeof(log_path), "%s", p);
    }
}

static void
note(const char *fn, const char *name)
{
    int   fd, n;
    char  buf[512];

    if (log_path[0] == '\0') {
        return;
    }
    fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        return;
    }
    n = snprintf(buf, sizeof(buf), "%d %s %s\n", (int) getpid(), fn,
                 name ? name : "(null)");
    if (write(fd, buf, n) < 0) {
        /* nothing to do */
    }
    close(fd);
}

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);

    if (real == NULL) {
        real = dlsym(RTLD_NEXT, "getaddrinfo");
    }
    note("getaddrinfo", node);
    return real(node, service, hints, res);
}

struct hostent *
gethostbyname(const char *name)
{
    static struct hostent *(*real)(const char *);

    if (real == NULL) {
        real = dlsym(RTLD_NEXT, "gethostbyname");
    }
    note("gethostbyname", name);
    return real(name);
}

int
gethostbyname_r(const char *name, struct hostent *ret, char *buf,
    size_t buflen, struct hostent **result, int *h_errnop)
{
    static int (*real)(const char *, struct hostent *, char *, size_t,
                       struct hostent **, int *);

    if (real == NULL) {
        real = dlsym(RTLD_NEXT, "gethostbyname_r");
    }
    note("gethostbyname_r", name);
    return real(name, ret, buf, buflen, result, h_errnop);
}
C
    my $so = "$dir/resolve-shim.so";
    my $cc = `cc -shared -fPIC -O1 -o '$so' '$src' -ldl 2>&1`;
    skip "no C compiler for the resolver shim: $cc", 4 if $? != 0;

    my $log = "$dir/resolve.log";
    my $r_redis = OxTest::redis();
    my $ng = OxTest::nginx(OxTest::standins() . <<"EOF",
    oxmigrate_db host=localhost port=%%DB_PORT%% user=root password=
                 database=%%DB_NAME%%;
    oxmigrate_redis host=localhost port=%%REDIS_PORT%%;
    server {
        listen 127.0.0.1:%%PORT_A%%;
        location / {
            oxmigrate on;
            oxmigrate_server oxserver-xyz;
            proxy_pass http://127.0.0.1:%%PORT_NEW%%;
        }
    }
EOF
        db => $db, redis => $r_redis, workers => 2,
        preload => [$so], env => { OXT_RESOLVE_LOG => $log });
    my @workers = $ng->worker_pids;
    is(scalar @workers, 2, 'the two workers are known by pid');
    my $A = $ng->port('A');
    # both workers connect to Redis after they started (later under ASan):
    # a login before that is not stored there
    OxTest::wait_for(sub {
        my @up = ($ng->error_log =~ /oxmigrate redis \S+ connected/g);
        @up >= 2 }, 15);
    my ($bad, $n) = (0, 0);
    # a few rounds, so that new pooled connections are opened too
    for my $i (1 .. 20) {
        my $c = 1 + $i % 6;
        my $r = login(port => $A, user => "u$i\@ctx$c.example.com");
        $n++;
        my $j = OxTest::json($r->{body});
        # ctx4 lives on oxserver-xyz, the others on oxserver-old
        $bad++ unless $r->{status} == 200
                      && ($c == 4 ? $r->{body} eq "new cluster\n"
                                  : $j && ($j->{code} // '') eq 'CTX-0012');
    }
    ok(!$bad && OxTest::wait_for(sub {
           ($r_redis->cmd('EXISTS', 'oxmigrate:v0:ctx1.example.com') // 0)
           == 1 }, 5),
       "host=localhost: $n logins decided through MariaDB, stored in Redis");
    $ng->stop;
    my @lines = split /\n/, (OxTest::_slurp($log) // '');
    my %w = map { $_ => 1 } @workers;
    ok(scalar(grep { !$w{(split / /)[0]} && / localhost$/ } @lines),
       'the shim saw the configuration resolve "localhost"')
        or diag "resolver calls:\n" . join "\n", @lines;
    my @named = grep { $w{(split / /)[0]} && !/ (\(null\)|[0-9.:]+)$/ }
                @lines;
    is("@named", '', 'workers never resolve a host name (only numeric '
                     . 'addresses reach the client libraries)');
}

# --- oxmigrate_redis
conf_ok("$DB\noxmigrate_redis host=127.0.0.1 port=6379 password=x db=2 "
        . "timeout=100ms ttl=60s prefix=ox:;\n$LOC",
        'all oxmigrate_redis parameters');
conf_ok("$DB\noxmigrate_redis host=127.0.0.1;\n$LOC",
        'oxmigrate_redis defaults');
conf_fails("$DB\noxmigrate_redis host=127.0.0.1 port=x;\n$LOC",
           qr/invalid parameter "port=x"/, 'oxmigrate_redis bad port');
conf_fails("$DB\noxmigrate_redis host=127.0.0.1 wat=1;\n$LOC",
           qr/invalid parameter "wat=1"/, 'oxmigrate_redis unknown parameter');
conf_fails("$DB\noxmigrate_redis port=6379;\n$LOC",
           qr/oxmigrate_redis|host/, 'oxmigrate_redis without host=');

# --- oxmigrate_cache
conf_ok("$DB\noxmigrate_cache zone=c:1m ttl=5s negative_ttl=1s;\n$LOC",
        'oxmigrate_cache');
conf_ok("$DB\noxmigrate_cache zone=c:1m;\n$LOC", 'oxmigrate_cache defaults');
conf_fails("$DB\noxmigrate_cache zone=c;\n$LOC", qr/oxmigrate_cache|zone/,
           'oxmigrate_cache zone without size');
conf_fails("$DB\noxmigrate_cache ttl=5s;\n$LOC", qr/oxmigrate_cache|zone/,
           'oxmigrate_cache without zone');

# --- location directives
conf_fails($LOC, qr/oxmigrate_db/, 'oxmigrate on without oxmigrate_db');
conf_fails("$DB\nserver { listen 127.0.0.1:%%PORT_A%%; location / { "
           . "oxmigrate on; return 204; } }",
           qr/oxmigrate_server/, 'oxmigrate on without oxmigrate_server');
conf_ok("server { listen 127.0.0.1:%%PORT_A%%; location / { "
        . "oxmigrate off; return 204; } }",
        'oxmigrate off needs nothing');
for my $st (301, 302, 303, 307, 308) {
    conf_ok("$DB\nserver { listen 127.0.0.1:%%PORT_A%%; location / { "
            . "oxmigrate on; oxmigrate_server a; "
            . "oxmigrate_redirect_url http://x/; "
            . "oxmigrate_redirect_status $st; return 204; } }",
            "oxmigrate_redirect_status $st");
}
for my $st (200, 304, 404, 'found') {
    conf_fails("$DB\nserver { listen 127.0.0.1:%%PORT_A%%; location / { "
               . "oxmigrate_redirect_status $st; return 204; } }",
               qr/invalid value|invalid/, "oxmigrate_redirect_status $st");
}
conf_fails("$DB\nserver { listen 127.0.0.1:%%PORT_A%%; location / { "
           . "oxmigrate_on_error maybe; return 204; } }",
           qr/invalid value/, 'oxmigrate_on_error maybe');
conf_fails("$DB\nserver { listen 127.0.0.1:%%PORT_A%%; location / { "
           . "oxmigrate_retry_after soon; return 204; } }",
           qr/invalid|oxmigrate_retry_after/, 'oxmigrate_retry_after soon');
conf_ok("$DB\nserver { listen 127.0.0.1:%%PORT_A%%; "
        . "oxmigrate on; oxmigrate_server a b c; "
        . "oxmigrate_login_actions login formlogin x; "
        . "oxmigrate_redirect_url https://h\$request_uri; "
        . "oxmigrate_redirect_json off; oxmigrate_maintenance off; "
        . "oxmigrate_on_error fail; oxmigrate_retry_after 1m; "
        . "location / { return 204; } }",
        'all location directives at the server level');
conf_ok("$DB\noxmigrate on; oxmigrate_server a;\n"
        . "server { listen 127.0.0.1:%%PORT_A%%; location / { return 204; } }",
        'oxmigrate at the http level');

# --- the shipped conf.d files, as a pair, on loopback
my $root = OxTest::root();
my $redis = OxTest::redis();
my %site;    # site address -> our ports
sub site_conf {
    my ($file, %port) = @_;
    my $t = OxTest::_slurp("$root/conf.d/$file") or die "$file: $!";
    my $n = 0;
    $n += $t =~ s{host=10\.20\.0\.5 port=3306 user=oxmigrate_router "password=db secret"\s+database=configdb}
                 {host=127.0.0.1 port=%%DB_PORT%% user=root password= database=%%DB_NAME%%};
    $n += $t =~ s{host=10\.20\.0\.6 port=6379}{host=127.0.0.1 port=%%REDIS_PORT%%};
    $n += $t =~ s{server 10\.20\.1\.11:8009;\s*server 10\.20\.1\.12:8009;}
                 {server 127.0.0.1:%%PORT_OLD%%;};
    $n += $t =~ s{server 10\.20\.2\.21:8009;}{server 127.0.0.1:%%PORT_NEW%%;};
    $n += $t =~ s{127\.0\.0\.1:8421}{127.0.0.1:%%PORT_MIS%%}g;
    $n += $t =~ s{127\.0\.0\.1:914[56];}{127.0.0.1:%%PORT_MET%%;};
    $n += $t =~ s{https://upgrade\.example\.com;}{%%SECONDARY%%;}g;
    $n += $t =~ s{listen 80;}{listen 127.0.0.1:%%PORT_LB%%;};
    $n += $t =~ s{/var/log/nginx/}{%%TMP%%/}g;
    $n += $t =~ s{https://upgrade\.example\.com/appsuite/}{%%SECONDARY%%/appsuite/}g;
    return ($t, $n);
}
my ($sec, $ns) = site_conf('secondary.conf');
is($ns, 8, 'secondary.conf: the site values found');
my $ngs = OxTest::nginx($sec . OxTest::standins(), db => $db,
                        redis => $redis);
my ($pri, $np) = site_conf('primary.conf');
is($np, 10, 'primary.conf: the site values found');
my $secondary_url = 'http://127.0.0.1:' . $ngs->port('LB');
my $ngp = OxTest::nginx($pri . OxTest::standins(), db => $db,
                        redis => $redis,
                        vars => { SECONDARY => $secondary_url });
my ($P, $S) = ($ngp->port('LB'), $ngs->port('LB'));

for my $path ('/appsuite/api/login', '/ajax/login') {
    pass_ok(login(port => $P, path => $path, user => 'a@ctx1.example.com'),
            'old cluster', "primary.conf $path: ctx1 to the old cluster");
    oxerror_ok(login(port => $P, path => $path, user => 'd@ctx4.example.com'),
               'LGI-0016', ["$secondary_url/appsuite/"],
               "primary.conf $path: moved context LGI-0016");
    redirect_ok(login(port => $P, path => $path, action => 'formlogin',
                      user => 'd@ctx4.example.com'),
                302, "$secondary_url/appsuite/",
                "primary.conf $path: formlogin 302");
    pass_ok(login(port => $S, path => $path, user => 'd@ctx4.example.com'),
            'new cluster', "secondary.conf $path: moved context passes");
    oxerror_ok(login(port => $S, path => $path, user => 'a@ctx1.example.com'),
               'CTX-0012', [1, 2], "secondary.conf $path: CTX-0012");
}
# the login locations take a login form, not an upload; the API does
my $fat = 'name=a%40ctx1.example.com&password=x&pad=' . ('p' x 20000);
for my $path ('/appsuite/api/login', '/ajax/login') {
    for my $port ($P, $S) {
        is(login(port => $port, path => $path, body => $fat)->{status}, 413,
           "port $port $path: a 20 kB login body is refused (413)");
    }
    pass_ok(login(port => $P, path => $path,
                  body => 'name=a%40ctx1.example.com&pad=' . ('p' x 12000)),
            'old cluster', "primary.conf $path: a 12 kB login passes");
}
pass_ok(OxTest::http(PUT => '/appsuite/api/infostore?action=upload', port => $P,
                     body => 'u' x 500_000),
        'old cluster', 'primary.conf: a 500 kB upload to the API passes');
# DAV / ActiveSync by their Basic user, share links by their token
sub basic_get {
    my ($port, $method, $path, $user) = @_;
    return OxTest::http($method => $path, port => $port, headers => {
        Authorization => 'Basic ' . MIME::Base64::encode_base64("$user:pw", '') });
}
for my $path ('/servlet/dav/caldav/', '/Microsoft-Server-ActiveSync?Cmd=Ping',
              '/servlet/webdav.infostore/', '/infostore/x', '/drive/x') {
    pass_ok(basic_get($P, 'PROPFIND', $path, 'd@ctx4.example.com'), 'new cluster',
            "primary.conf $path: moved context routed to the new cluster");
    pass_ok(basic_get($P, 'PROPFIND', $path, 'a@ctx1.example.com'), 'old cluster',
            "primary.conf $path: ctx1 stays");
    pass_ok(basic_get($S, 'PROPFIND', $path, 'd@ctx4.example.com'), 'new cluster',
            "secondary.conf $path: moved context passes");
    is(basic_get($S, 'PROPFIND', $path, 'a@ctx1.example.com')->{status}, 421,
       "secondary.conf $path: ctx1 gets 421");
}
my $tok4 = sprintf('%08x', 4 ^ 0x1234567) . 'abcdef01' . '1234567' . ('0' x 25);
my $tok1 = sprintf('%08x', 1 ^ 0x1234567) . 'abcdef01' . '1234567' . ('0' x 25);
for my $pre ('/appsuite/api/share/', '/ajax/share/') {
    redirect_ok(OxTest::http(GET => "$pre$tok4/f?x=1", port => $P), 302,
                "$secondary_url$pre$tok4/f", "primary.conf $pre: moved share 302");
    pass_ok(OxTest::http(GET => "$pre$tok1", port => $P), 'old cluster',
            "primary.conf $pre: ctx1 share stays");
    pass_ok(OxTest::http(GET => "$pre$tok4", port => $S), 'new cluster',
            "secondary.conf $pre: moved share passes");
    is(OxTest::http(GET => "$pre$tok1", port => $S)->{status}, 421,
       "secondary.conf $pre: ctx1 share gets 421");
}
pass_ok(OxTest::http(GET => '/appsuite/', port => $P), 'old cluster',
        'primary.conf: the UI from the old cluster');
pass_ok(OxTest::http(GET => '/appsuite/', port => $S), 'new cluster',
        'secondary.conf: the UI from the new cluster');
my $re = qr/cid=4 server=8 schema=oxdatabase_6 decision=redirect cache=\w+/;
my $plog = '';
OxTest::wait_for(sub {
    $plog = OxTest::_slurp($ngp->dir . '/oxmigrate-primary.log') // '';
    $plog =~ $re;
}, 2);
like($plog, $re, 'primary.conf: the oxmigrate log format');
for ([primary => $ngp], [secondary => $ngs]) {
    my ($name, $ng) = @$_;
    my $m = OxTest::http(GET => '/metrics', port => $ng->port('MET'));
    is($m->{status}, 200, "$name.conf: its metrics listener answers");
    like($m->{body}, qr/^oxmigrate_login_decisions_total\{decision="pass"\} [1-9]/m,
         "$name.conf: ... with the decisions of the requests above");
}
$ngp->stop;
$ngs->stop;

done_testing;
