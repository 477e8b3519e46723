# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxTest;

# Test helpers for the oxmigrate prove suite: a private database per test
# file on the suite's MariaDB (t/run.sh), extra private MariaDB and Redis
# servers, nginx with the module under test, a raw HTTP client and an echo
# backend.  Core Perl modules only.
#
# Everything a test file starts lives in its own temporary directory and on
# free loopback ports, and is stopped when the test file ends, so test files
# can run in parallel.  The directory is removed when the file passed and
# kept (its path printed) when it failed, or always with OXM_KEEP=1.
#
#   use FindBin; use lib "$FindBin::Bin/lib";
#   use OxTest;
#   my $db = OxTest::db('decision');           # oxt_decision, configdb loaded
#   $db->load('demo.sql');
#   my $ng = OxTest::nginx(<<"EOF", db => $db);
#       oxmigrate_db host=127.0.0.1 port=%%DB_PORT%% user=root password=
#                    database=%%DB_NAME%%;
#       server { listen 127.0.0.1:%%PORT_A%%; ... }
#   EOF
#   my $r = OxTest::http(POST => '/ajax/login?action=login',
#                        port => $ng->port('A'), body => 'name=a@ctx1');
#
# Strings given to and returned from MariaDB, Redis and HTTP are bytes.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(basename dirname);
use File::Path qw(rmtree);
use File::Spec;
use File::Temp ();
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(free_port tmpdir db mariadb_private redis nginx
                    nginx_check http http_raw json echo_backend wait_for
                    suite_mariadb uri_escape login oxerror_ok pass_ok
                    redirect_ok http_start http_raw_start http_many
                    login_start);

my $PARENT = $$;      # END blocks of forked children must not clean up
my $TMPDIR;
my %USED_PORTS;
my @CLEANUP;          # objects with ->_cleanup, in creation order


sub root {
    return $ENV{OXM_ROOT} if $ENV{OXM_ROOT};
    return abs_path(dirname(__FILE__) . '/../..');
}


sub _need_env {
    for my $v (qw(OXM_MODULE OXM_MYSQL_PORT OXM_MYSQL_SOCKET)) {
        next if $ENV{$v};
        Test::More::BAIL_OUT("$v is not set: run the suite through "
                             . "t/run.sh MODULE_SO [t/file.t]");
    }
}


# The temporary directory of this test file.
sub tmpdir {
    return $TMPDIR if $TMPDIR;
    my $name = basename($0);
    $name =~ s/\.t$//;
    $name =~ s/[^A-Za-z0-9_-]/_/g;
    $TMPDIR = File::Temp::tempdir("oxt-$name-XXXXXX", TMPDIR => 1,
                                  CLEANUP => 0);
    return $TMPDIR;
}


# A TCP port on 127.0.0.1 that nobody listens on right now, never the same
# twice in one test file.
sub free_port {
    for (1 .. 200) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Listen => 1,
                                      ReuseAddr => 1)
            or croak "free_port: $!";
        my $port = $s->sockport;
        close $s;
        next if $USED_PORTS{$port}++;
        return $port;
    }
    croak "free_port: no free port";
}


# Poll $code every $step seconds until it returns true or $timeout seconds
# have passed; returns its last value.
sub wait_for {
    my ($code, $timeout, $step) = @_;
    $timeout //= 10;
    $step //= 0.05;
    my $end = time + $timeout;
    while (1) {
        my $v = $code->();
        return $v if $v;
        return $v if time >= $end;
        sleep $step;
    }
}


sub _port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}


sub _spawn {
    my ($cmd, %o) = @_;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        if ($o{setsid}) {
            POSIX::setsid();
        }
        if ($o{stdout}) {
            open STDOUT, '>>', $o{stdout} or POSIX::_exit(127);
            open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        }
        open STDIN, '<', '/dev/null' or POSIX::_exit(127);
        exec @$cmd or POSIX::_exit(127);
    }
    return $pid;
}


# Wait up to $timeout seconds for child $pid; returns 1 when it is gone.
sub _reap {
    my ($pid, $timeout) = @_;
    my $end = time + ($timeout // 10);
    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        return 1 if $r == $pid || $r == -1;
        sleep 0.05;
    }
    return 0;
}


# SIGSTOP, then wait until every thread of $pid is stopped: kill() returns
# before a running thread has stopped, and a multi-threaded server (MariaDB)
# may still answer a query meanwhile.
sub _sigstop {
    my ($pid) = @_;
    return unless $pid;
    kill 'STOP', $pid;
    wait_for(sub {
        opendir my $dh, "/proc/$pid/task" or return 1;
        my @t = grep { /^\d+$/ } readdir $dh;
        closedir $dh;
        for my $t (@t) {
            my $st = _slurp("/proc/$pid/task/$t/stat") // next;
            my ($state) = $st =~ /^\d+ \(.*\) (\S)/s or next;
            return 0 unless $state eq 'T' || $state eq 't';
        }
        return 1;
    }, 5, 0.01);
}


sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    my $t = <$fh>;
    close $fh;
    return $t;
}


sub _spew {
    my ($file, $text) = @_;
    open my $fh, '>', $file or croak "$file: $!";
    print $fh $text;
    close $fh or croak "$file: $!";
}


sub json {
    my ($text) = @_;
    return undef unless defined $text;
    my $v = eval { JSON::PP->new->utf8->allow_nonref->decode($text) };
    return $v;
}


END {
    if ($$ == $PARENT) {
        my $status = $?;
        for my $o (reverse @CLEANUP) {
            eval { $o->_cleanup };
            Test::More::diag("cleanup: $@") if $@;
        }
        if ($TMPDIR) {
            my $ok = Test::More->builder->is_passing;
            if ($ENV{OXM_KEEP} || !$ok) {
                Test::More::diag("kept $TMPDIR");
            } else {
                rmtree($TMPDIR);
            }
        }
        $? = $status;
    }
}


# ---------------------------------------------------------------- MariaDB

# The suite's MariaDB (started by t/run.sh).
my $SUITE_DB;
sub suite_mariadb {
    _need_env();
    $SUITE_DB //= OxTest::MariaDB->_attach($ENV{OXM_MYSQL_SOCKET},
                                           $ENV{OXM_MYSQL_PORT});
    return $SUITE_DB;
}


# A fresh database oxt_<name> on the suite's MariaDB with sql/configdb.sql
# (and sql/oxmigrate.sql when present) loaded; dropped when the test file
# ends.  The name defaults to the test file's name; names must be unique
# across test files (they run in parallel).
sub db {
    my ($name) = @_;
    return suite_mariadb()->db($name);
}


# A separate MariaDB only this test file uses: it can be stopped, killed,
# frozen.  Takes a few seconds (mariadb-install-db).
# args => [...]: mariadbd options instead of --skip-log-bin (a replication
# primary: --log-bin --server-id=1; a replica: --server-id=2)
sub mariadb_private {
    my (%o) = @_;
    return OxTest::MariaDB->_new_private(%o);
}


sub redis {
    return OxTest::Redis->_new(@_);
}


sub nginx {
    return OxTest::Nginx->_new(@_);
}


# `nginx -t` of a config built like nginx() builds it: (exit status, output)
sub nginx_check {
    return OxTest::Nginx->_check(@_);
}


sub echo_backend {
    return OxTest::Echo->_new(@_);
}


# ---------------------------------------------------------------- HTTP

# http(METHOD, URL_OR_PATH, port => N, host => 'localhost', headers => {},
#      body => BYTES, timeout => 10, pieces => [N, ...], pause => 0.05)
# (pause may be a code ref, called between the pieces instead of sleeping)
# HTTP/1.1 with Connection: close.  Returns {status, headers (lowercase
# keys; repeated headers joined with ", "), body (de-chunked), raw, ms}.
# status is 0 when the connection failed or timed out ({error} says which).
sub http {
    my ($method, $url, %o) = @_;
    my ($port, $req) = _request($method, $url, %o);
    return http_raw($port, $req, %o);
}

# The same, but returns at once after sending the request: an object whose
# ->wait returns the response (ms counted from the start) and whose ->close
# drops the connection (a client that gives up).
sub http_start {
    my ($method, $url, %o) = @_;
    my ($port, $req) = _request($method, $url, %o);
    return http_raw_start($port, $req, %o);
}

# Sends each request on its own connection, all at once, then collects the
# responses (in the same order).
sub http_many {
    my ($reqs, %o) = @_;
    my @h = map { http_start(@$_, %o) } @$reqs;
    return map { $_->wait } @h;
}

sub _request {
    my ($method, $url, %o) = @_;
    my $host = $o{host} // 'localhost';
    my $port = $o{port};
    my $path = $url;
    if ($url =~ m{^http://([^/:]+)(?::(\d+))?(/.*)?$}) {
        $host = $1 unless defined $o{host};
        $port = $2 // 80;
        $path = $3 // '/';
    }
    croak "http: no port" unless $port;

    my %h = %{ $o{headers} // {} };
    my %lc = map { lc($_) => 1 } keys %h;
    my $req = "$method $path HTTP/1.1\r\n";
    $req .= "Host: $host\r\n" unless $lc{host};
    $req .= "Connection: close\r\n" unless $lc{connection};
    if (defined $o{body}) {
        $req .= "Content-Length: " . length($o{body}) . "\r\n"
            unless $lc{'content-length'} || $lc{'transfer-encoding'};
        $req .= "Content-Type: application/x-www-form-urlencoded\r\n"
            unless $lc{'content-type'};
    }
    for my $k (sort keys %h) {
        for my $v (ref $h{$k} ? @{ $h{$k} } : $h{$k}) {
            $req .= "$k: $v\r\n";
        }
    }
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body};
    return ($port, $req);
}

# Sends $bytes as they are and parses the answer like http().
sub http_raw {
    my ($port, $bytes, %o) = @_;
    return http_raw_start($port, $bytes, %o)->wait;
}

sub http_raw_start {
    my ($port, $bytes, %o) = @_;
    my $timeout = $o{timeout} // 10;
    my $p = bless { t0 => time, timeout => $timeout }, 'OxTest::Pending';

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $timeout);
    unless ($s) {
        $p->{error} = "connect: $!";
        return $p;
    }
    $s->autoflush(1);
    $p->{sock} = $s;
    local $SIG{PIPE} = 'IGNORE';

    my $end = $p->{t0} + $timeout;
    my $off = 0;
    my $sel = '';
    vec($sel, fileno($s), 1) = 1;
    # pieces => [N, M, ...]: send the first N bytes, pause, the next M, ...
    # (the rest at the end), so the server sees the request in parts
    if ($o{pieces}) {
        for my $n (@{ $o{pieces} }) {
            last if $off >= length $bytes;
            my $w = syswrite($s, $bytes, $n, $off);
            last unless defined $w;
            $off += $w;
            if (ref $o{pause} eq 'CODE') {
                $o{pause}->();
            } else {
                sleep($o{pause} // 0.05);
            }
        }
    }
    while ($off < length $bytes) {
        my $w = $sel;
        my $left = $end - time;
        last if $left <= 0;
        last unless select(undef, $w, undef, $left);
        my $n = syswrite($s, $bytes, 65536, $off);
        last unless defined $n;     # the server may answer before reading
        $off += $n;
    }
    return $p;
}


package OxTest::Pending;

use Time::HiRes qw(time);

# Reads the response until the server closes (or the request's timeout,
# counted from its start, passes) and parses it.
sub wait {
    my ($self) = @_;
    return $self->{res} if $self->{res};
    my $res = { status => 0, headers => {}, body => '', raw => '' };
    $self->{res} = $res;
    my $s = delete $self->{sock};
    unless ($s) {
        $res->{error} = $self->{error} // 'closed';
        $res->{ms} = (time - $self->{t0}) * 1000;
        return $res;
    }
    my $raw = '';
    my $end = $self->{t0} + $self->{timeout};
    my $sel = '';
    vec($sel, fileno($s), 1) = 1;
    while (1) {
        my $r = $sel;
        my $left = $end - time;
        if ($left <= 0) {
            $res->{error} = 'timeout';
            last;
        }
        my $n = select($r, undef, undef, $left);
        next if $n < 0 && $!{EINTR};
        next unless $n > 0;
        my $got = sysread($s, $raw, 65536, length $raw);
        last unless $got;
    }
    CORE::close($s);
    $res->{ms} = (time - $self->{t0}) * 1000;
    $res->{raw} = $raw;
    OxTest::_parse_response($res);
    return $res;
}

# the client gives up
sub close {
    my ($self) = @_;
    my $s = delete $self->{sock};
    CORE::close($s) if $s;
}


package OxTest;

sub _parse_response {
    my ($res) = @_;
    my $raw = $res->{raw};
    my $i = index($raw, "\r\n\r\n");
    return $res if $i < 0;
    my $head = substr($raw, 0, $i);
    my $body = substr($raw, $i + 4);
    my ($line, @lines) = split /\r\n/, $head;
    ($res->{status}) = $line =~ m{^HTTP/\d\.\d (\d{3})};
    $res->{status} //= 0;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $k = lc $k;
        $res->{headers}{$k} = exists $res->{headers}{$k}
                              ? "$res->{headers}{$k}, $v" : $v;
    }
    if (($res->{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($body, 0, $len, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }
    $res->{body} = $body;
    return $res;
}


# ---------------------------------------------------------------- logins

# Percent-encodes everything but unreserved characters (bytes in, bytes out).
sub uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# A login request as the App Suite UI (action=login, field "name") or a
# login form (action=formlogin, field "login") sends it.
#   login(port => N, user => 'alice@ctx1.example.com',
#         action => 'login', method => 'POST', path => '/ajax/login',
#         raw_user => 'alice%40ctx1',       # already encoded, used as is
#         body => '...',                    # the whole body, as is
#         headers => {}, timeout => 10)
# POST puts the user (and a password) into the form body and only action
# into the query; GET puts everything into the query.
sub login { return login_start(@_)->wait; }

# login() that returns at once (see http_start)
sub login_start {
    my (%o) = @_;
    my $action = $o{action} // 'login';
    my $field = $o{field} // ($action eq 'formlogin' ? 'login' : 'name');
    my $method = $o{method} // 'POST';
    my $path = $o{path} // '/ajax/login';
    my $user = defined $o{raw_user} ? $o{raw_user}
             : defined $o{user} ? uri_escape($o{user}) : undef;
    my $form = (defined $user ? "$field=$user&" : '')
               . 'password=secret&client=open-xchange-appsuite';
    my $sep = $path =~ /\?/ ? '&' : '?';
    if ($method eq 'GET') {
        return http_start(GET => "$path${sep}action=$action&$form",
                          port => $o{port}, headers => $o{headers},
                          timeout => $o{timeout});
    }
    return http_start($method => "$path${sep}action=$action",
                port => $o{port},
                body => $o{body} // $form, headers => $o{headers},
                timeout => $o{timeout}, pieces => $o{pieces},
                pause => $o{pause});
}

# Two stand-in OX clusters as server blocks of the nginx under test: they
# answer "old cluster\n" on %%PORT_OLD%% and "new cluster\n" on %%PORT_NEW%%,
# with a header X-Cluster: old|new.
sub standins {
    return <<'CONF';
    server {
        listen 127.0.0.1:%%PORT_OLD%%;
        location / { add_header X-Cluster old; return 200 "old cluster\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_NEW%%;
        location / { add_header X-Cluster new; return 200 "new cluster\n"; }
    }
CONF
}

# What oxmigrate answers with, per code (ox-facts section 3).
my %OXERR = (
    'LGI-0016' => { category => 1, categories => 'USER_INPUT' },
    'CTX-0012' => {
        category => 8, categories => 'ERROR',
        error => 'An error occurred inside the server which prevented it '
                 . 'from fulfilling the request.',
    },
    'CTX-0007' => {
        category => 4, categories => 'TRY_AGAIN',
        error => 'The server is currently down for maintenance. '
                 . 'Please try again later.',
        error_desc => 'Updating database ... Try again later.',
        params => [],
    },
    'LGI-0005' => {
        category => 5, categories => 'SERVICE_DOWN', status => 503,
        error => 'Login not possible at the moment. Please try again later.',
        error_desc => 'Login not possible at the moment.',
        params => [],
    },
);

# Checks a response is exactly the OX error $code; for LGI-0016 $params is
# [URL], for CTX-0012 [cid, server_id] (checked to be JSON numbers).
# One ok() per call (with diagnostics on failure); returns the decoded
# object on success.
sub oxerror_ok {
    my ($r, $code, $params, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $name //= $code;
    my $e = $OXERR{$code} or Carp::croak("unknown code $code");
    $params = [map { 0 + $_ } @$params] if $code eq 'CTX-0012';
    my %want = (
        status => $e->{status} // 200,
        category => $e->{category},
        categories => $e->{categories},
        params => $params // $e->{params},
        error => $e->{error},
        error_desc => $e->{error_desc},
    );
    if ($code eq 'LGI-0016') {
        $want{error} = $want{error_desc} = $params->[0];
    } elsif ($code eq 'CTX-0012') {
        $want{error_desc} = "The context $params->[0] is located in server "
                            . "with id $params->[1]";
    }
    my @why;
    push @why, "status $r->{status}, want $want{status}"
        if $r->{status} != $want{status};
    my $ct = $r->{headers}{'content-type'} // '';
    push @why, "Content-Type '$ct'"
        if $ct ne 'application/json; charset=UTF-8';
    my $j = json($r->{body});
    if (ref $j ne 'HASH') {
        push @why, "body is not a JSON object";
    } else {
        my @keys = sort keys %$j;
        my @want_keys = sort qw(error error_params categories category code
                                error_id error_desc);
        push @why, "keys [@keys]" if "@keys" ne "@want_keys";
        push @why, "code '" . ($j->{code} // '') . "'"
            if ($j->{code} // '') ne $code;
        push @why, "category '" . ($j->{category} // '') . "'"
            if ($j->{category} // '') ne $want{category};
        push @why, "category is not a JSON number"
            if $r->{body} !~ /"category"\s*:\s*\d/;
        push @why, "categories '" . ($j->{categories} // '') . "'"
            if ($j->{categories} // '') ne $want{categories};
        push @why, "error '" . ($j->{error} // '') . "'"
            if ($j->{error} // '') ne $want{error};
        push @why, "error_desc '" . ($j->{error_desc} // '') . "'"
            if ($j->{error_desc} // '') ne $want{error_desc};
        push @why, "error_id '" . ($j->{error_id} // '') . "'"
            if ($j->{error_id} // '') !~ /^\S+$/ || ref $j->{error_id};
        my $got = JSON::PP->new->canonical->encode($j->{error_params} // 0);
        my $exp = JSON::PP->new->canonical->encode($want{params});
        push @why, "error_params $got, want $exp" if $got ne $exp;
        if ($code eq 'CTX-0012'
            && $r->{body} !~ /"error_params"\s*:\s*\[\s*\d+\s*,\s*\d+\s*\]/)
        {
            push @why, 'error_params are not JSON numbers';
        }
    }
    my $ok = Test::More->builder->ok(!@why, $name);
    Test::More::diag(join("\n", @why) . "\n--- answer:\n" . $r->{raw})
        unless $ok;
    return $ok ? $j : undef;
}

# Checks the request passed to the stand-in backend answering $what
# ("old cluster", "new cluster"): status 200 and that body.
sub pass_ok {
    my ($r, $what, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More->builder->ok(
        $r->{status} == 200 && $r->{body} eq "$what\n", $name);
    Test::More::diag("want 200 '$what', got:\n$r->{raw}"
                     . ($r->{error} ? "\n($r->{error})" : ''))
        unless $ok;
    return $ok;
}

# Checks an HTTP redirect with this status and Location.
sub redirect_ok {
    my ($r, $status, $location, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More->builder->ok(
        $r->{status} == $status
        && ($r->{headers}{location} // '') eq $location, $name);
    Test::More::diag("want $status Location: $location, got:\n$r->{raw}")
        unless $ok;
    return $ok;
}


# ================================================================ MariaDB

package OxTest::MariaDB;

use strict;
use warnings;
use Carp qw(croak);
use File::Temp ();
use Time::HiRes qw(time sleep);

sub _attach {
    my ($class, $socket, $port) = @_;
    return bless { socket => $socket, port => $port, dbs => [] }, $class;
}

sub _new_private {
    my ($class, %o) = @_;
    my $dir = OxTest::tmpdir() . '/mariadb-' . OxTest::free_port();
    mkdir $dir or croak "$dir: $!";
    my $self = bless {
        dir => $dir, socket => "$dir/mysqld.sock",
        port => OxTest::free_port(), dbs => [], private => 1,
        args => $o{args} // ['--skip-log-bin'],
    }, $class;
    my @user = $> == 0 ? ('--user=root') : ();
    my $log = "$dir/install-db.log";
    # its own tmpdir: the bootstrap server's temporary tables must not
    # meet anybody else's in /tmp
    mkdir "$dir/tmp" or croak "$dir/tmp: $!";
    system("mariadb-install-db --no-defaults @user --datadir='$dir/data' "
           . "--tmpdir='$dir/tmp' "
           . "--auth-root-authentication-method=normal --skip-test-db "
           . ">'$log' 2>&1") == 0
        or croak "mariadb-install-db failed: " . (OxTest::_slurp($log) // '');
    push @CLEANUP, $self;
    $self->start;
    $self->do("CREATE USER IF NOT EXISTS 'root'\@'127.0.0.1' "
              . "IDENTIFIED BY ''");
    $self->do("GRANT ALL PRIVILEGES ON *.* TO 'root'\@'127.0.0.1' "
              . "WITH GRANT OPTION");
    return $self;
}

sub port   { $_[0]{port} }
sub socket { $_[0]{socket} }
sub pid    { $_[0]{pid} }

# Makes this private server a replica of $primary (GTID, from its start),
# and waits until the replication threads run.
sub replicate_from {
    my ($self, $primary) = @_;
    $self->do("CHANGE MASTER TO MASTER_HOST='127.0.0.1', "
              . "MASTER_PORT=$primary->{port}, MASTER_USER='root', "
              . "MASTER_PASSWORD='', MASTER_USE_GTID=current_pos, "
              . "MASTER_CONNECT_RETRY=1");
    $self->do('START SLAVE');
    OxTest::wait_for(sub {
        my $r = $self->sql('SHOW SLAVE STATUS');
        $r && @$r && grep { defined && $_ eq 'Yes' } @{ $r->[0] };
    }, 15) or croak 'replication did not start';
    return $self;
}

# Starts the private server (again, same port and data); waits until ready.
# The first start takes another port when someone else grabbed this one.
sub start {
    my ($self) = @_;
    croak "not a private MariaDB" unless $self->{private};
    return $self if $self->{pid};
    for my $try (1 .. 3) {
        my $err = $self->_start_once // return $self;
        if (!$self->{started} && $try < 3
            && $err =~ /Address already in use|Can't start server: Bind/)
        {
            Test::More::diag("MariaDB port $self->{port} taken, another one");
            $self->{port} = OxTest::free_port();
            next;
        }
        croak "mariadbd did not start: $err";
    }
}

sub _start_once {
    my ($self) = @_;
    my $dir = $self->{dir};
    my @user = $> == 0 ? ('--user=root') : ();
    unlink "$dir/mysqld.err";
    $self->{pid} = OxTest::_spawn([
        'mariadbd', '--no-defaults', @user, "--datadir=$dir/data",
        "--tmpdir=$dir/tmp",
        "--socket=$self->{socket}", "--port=$self->{port}",
        '--bind-address=127.0.0.1', '--skip-name-resolve',
        "--pid-file=$dir/mysqld.pid", "--log-error=$dir/mysqld.err",
        '--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M',
        '--innodb-log-buffer-size=1M', '--innodb-flush-log-at-trx-commit=2',
        @{ $self->{args} }, '--performance-schema=OFF',
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_unicode_ci',
    ], stdout => "$dir/mysqld.out");
    my $exited = 0;
    my $ok = OxTest::wait_for(sub {
        return 1 if system("mariadb --no-defaults -uroot "
                           . "--socket='$self->{socket}' -e 'SELECT 1' "
                           . ">/dev/null 2>&1") == 0;
        if (waitpid($self->{pid}, POSIX::WNOHANG()) == $self->{pid}) {
            $exited = 1;
            return 1;
        }
        return 0;
    }, 60, 0.1);
    if ($ok && !$exited) {
        $self->{started} = 1;
        return undef;
    }
    $exited or $self->kill;
    delete $self->{pid};
    return ($exited ? 'exited: ' : 'not ready in 60 s: ')
           . (OxTest::_slurp("$dir/mysqld.err") // '');
}

# Clean shutdown.
sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('CONT', $self->{pid});
    CORE::kill('TERM', $self->{pid});
    unless (OxTest::_reap($self->{pid}, 30)) {
        CORE::kill('KILL', $self->{pid});
        OxTest::_reap($self->{pid}, 10);
    }
    delete $self->{pid};
}

# kill -9: the server vanishes, its TCP connections get a RST.
sub kill {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('KILL', $self->{pid});
    OxTest::_reap($self->{pid}, 10);
    delete $self->{pid};
}

# Frozen: connections stay open, nothing answers.
sub sigstop { OxTest::_sigstop($_[0]{pid}) }
sub sigcont { CORE::kill('CONT', $_[0]{pid}) if $_[0]{pid}; }

sub _cleanup {
    my ($self) = @_;
    if (!$self->{private}) {
        for my $d (@{ $self->{dbs} }) {
            eval { $self->do("DROP DATABASE IF EXISTS `$d`") };
        }
        return;
    }
    $self->stop;
}

sub _client {
    my ($self, $database) = @_;
    my @c = ('mariadb', '--no-defaults', '-uroot',
             "--socket=$self->{socket}", '--batch', '--skip-column-names',
             '--default-character-set=utf8mb4');
    push @c, "--database=$database" if defined $database;
    return @c;
}

# Runs SQL text (several statements allowed) in $database (or none).
# Returns an arrayref of rows, each an arrayref of columns (NULL: undef).
# Dies with the client's message on an error.
sub sql_in {
    my ($self, $database, $stmt) = @_;
    my $dir = OxTest::tmpdir();
    my $in = File::Temp->new(DIR => $dir, SUFFIX => '.sql');
    print $in $stmt;
    close $in;
    my $err = "$in.err";
    my @c = $self->_client($database);
    my $cmd = join(' ', map { "'$_'" } @c) . " <'$in' 2>'$err'";
    my $out = `$cmd`;
    my $rc = $?;
    my $msg = OxTest::_slurp($err) // '';
    unlink $err;
    croak "SQL failed ($msg): $stmt" if $rc != 0;
    my @rows;
    for my $line (split /\n/, $out) {
        my @cols = map {
            $_ eq 'NULL' ? undef : _unescape($_)
        } split /\t/, $line, -1;
        push @rows, \@cols;
    }
    return \@rows;
}

sub _unescape {
    my ($s) = @_;
    my %m = (n => "\n", t => "\t", 0 => "\0", '\\' => '\\');
    $s =~ s/\\([nt0\\])/$m{$1}/g;
    return $s;
}

sub sql { my ($self, $stmt) = @_; return $self->sql_in(undef, $stmt); }
sub do  { my ($self, $stmt) = @_; $self->sql_in(undef, $stmt); return 1; }

# A fresh database with configdb loaded (see OxTest::db).
sub db {
    my ($self, $name) = @_;
    unless (defined $name) {
        $name = File::Basename::basename($0);
        $name =~ s/\.t$//;
    }
    $name =~ s/[^A-Za-z0-9_]/_/g;
    my $db = "oxt_$name";
    croak "database name too long: $db" if length $db > 64;
    $self->do("DROP DATABASE IF EXISTS `$db`; CREATE DATABASE `$db` "
              . "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
    push @{ $self->{dbs} }, $db unless $self->{private};
    push @CLEANUP, $self unless $self->{private} || $self->{registered}++;
    my $obj = bless { server => $self, name => $db }, 'OxTest::DB';
    $obj->load('configdb.sql');
    $obj->load('oxmigrate.sql') if -f OxTest::root() . '/sql/oxmigrate.sql';
    return $obj;
}


# ================================================================ DB

package OxTest::DB;

use strict;
use warnings;
use Carp qw(croak);

sub name   { $_[0]{name} }
sub server { $_[0]{server} }
sub port   { $_[0]{server}{port} }
sub socket { $_[0]{server}{socket} }

sub sql { my ($self, $stmt) = @_; $self->{server}->sql_in($self->{name}, $stmt) }
sub do  { my ($self, $stmt) = @_; $self->sql($stmt); return 1 }

# First column of the first row.
sub value {
    my ($self, $stmt) = @_;
    my $rows = $self->sql($stmt);
    return @$rows ? $rows->[0][0] : undef;
}

# Loads a file of sql/ (or a path); %vars become session variables first,
# e.g. load('demo.sql', oxm_db_url => 'jdbc:mysql://127.0.0.1:3307/').
sub load {
    my ($self, $file, %vars) = @_;
    my $path = $file =~ m{/} ? $file : OxTest::root() . "/sql/$file";
    my $text = OxTest::_slurp($path) // croak "$path: $!";
    my $pre = '';
    for my $k (sort keys %vars) {
        $pre .= "SET \@$k = " . $self->quote($vars{$k}) . ";\n";
    }
    $self->sql($pre . $text);
    return $self;
}

sub quote {
    my ($self, $v) = @_;
    return 'NULL' unless defined $v;
    $v =~ s/\\/\\\\/g;
    $v =~ s/'/\\'/g;
    $v =~ s/\0/\\0/g;
    return "'$v'";
}

# The oxmigrate_db directive for this database (TCP, root, no password).
sub directive {
    my ($self, %extra) = @_;
    my $d = "oxmigrate_db host=127.0.0.1 port=$self->{server}{port} "
            . "user=root password= database=$self->{name}";
    $d .= join '', map { " $_=$extra{$_}" } sort keys %extra;
    return "$d;";
}

# Runs SQL in a background mariadb client session (e.g. a LOCK TABLES
# held with SLEEP); returns an object with ->wait (exit status), ->kill,
# ->running.  Output goes to ->{log}.
sub sql_bg {
    my ($self, $stmt) = @_;
    my $dir = OxTest::tmpdir();
    my $in = "$dir/bg-" . OxTest::free_port() . '.sql';
    OxTest::_spew($in, $stmt);
    my @c = $self->{server}->_client($self->{name});
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', $in or POSIX::_exit(127);
        open STDOUT, '>', "$in.log" or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        exec @c or POSIX::_exit(127);
    }
    my $bg = bless { pid => $pid, log => "$in.log" }, 'OxTest::Bg';
    push @CLEANUP, $bg;
    return $bg;
}


package OxTest::Bg;

use strict;
use warnings;
use POSIX qw(WNOHANG);

sub pid { $_[0]{pid} }

sub running {
    my ($self) = @_;
    return 0 unless $self->{pid};
    my $r = waitpid($self->{pid}, WNOHANG);
    return 1 if $r == 0;
    $self->{status} = $?;
    delete $self->{pid};
    return 0;
}

sub wait {
    my ($self) = @_;
    if ($self->{pid}) {
        waitpid($self->{pid}, 0);
        $self->{status} = $?;
        delete $self->{pid};
    }
    return $self->{status};
}

sub kill {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('TERM', $self->{pid});
    OxTest::_reap($self->{pid}, 5) or CORE::kill('KILL', $self->{pid});
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub output { OxTest::_slurp($_[0]{log}) // '' }

sub _cleanup { $_[0]->kill }


# ================================================================ Redis

package OxTest::Redis;

use strict;
use warnings;
use Carp qw(croak);

sub _new {
    my ($class, %o) = @_;
    my $port = OxTest::free_port();
    my $dir = OxTest::tmpdir() . "/redis-$port";
    mkdir $dir or croak "$dir: $!";
    my $self = bless { port => $port, dir => $dir,
                       password => $o{password}, unix => $o{unix} }, $class;
    push @CLEANUP, $self;
    $self->start;
    return $self;
}

sub port { $_[0]{port} }

# unix => 1: the server also listens on this unix socket
sub socket { "$_[0]{dir}/redis.sock" }

sub start {
    my ($self) = @_;
    return $self if $self->{pid};
    for my $try (1 .. 3) {
        my $log = "$self->{dir}/redis.log";
        unlink $log;
        my @cmd = ('redis-server', '--port', $self->{port},
                   '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                   '--dir', $self->{dir}, '--daemonize', 'no',
                   '--logfile', $log);
        push @cmd, '--requirepass', $self->{password} if $self->{password};
        push @cmd, '--unixsocket', $self->socket, '--unixsocketperm', '777'
            if $self->{unix};
        $self->{pid} = OxTest::_spawn(\@cmd,
                                      stdout => "$self->{dir}/out.log");
        my $exited = 0;
        my $ok = OxTest::wait_for(sub {
            return 1 if $self->_ping;
            $exited = waitpid($self->{pid}, POSIX::WNOHANG()) == $self->{pid};
            return $exited;
        }, 10);
        if ($ok && !$exited) {
            $self->{started} = 1;
            return $self;
        }
        $exited or $self->kill;
        delete $self->{pid};
        my $err = OxTest::_slurp($log) // '';
        if (!$self->{started} && $try < 3 && $err =~ /Address already in use/) {
            Test::More::diag("Redis port $self->{port} taken, another one");
            $self->{port} = OxTest::free_port();
            next;
        }
        croak "redis-server did not start: $err";
    }
}

sub _ping {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{port}, Timeout => 1)
        or return 0;
    my $auth = $self->{password}
               ? "AUTH $self->{password}\r\n" : '';
    syswrite($s, "${auth}PING\r\n");
    # read with a deadline: whatever listens there may never answer
    my ($buf, $end) = ('', Time::HiRes::time() + 1);
    my $sel = '';
    vec($sel, fileno($s), 1) = 1;
    while ($buf !~ /PONG|-ERR|-NOAUTH|-WRONGPASS/) {
        my $left = $end - Time::HiRes::time();
        last if $left <= 0;
        my $r = $sel;
        last unless select($r, undef, undef, $left) > 0;
        last unless sysread($s, $buf, 512, length $buf);
    }
    close $s;
    return $buf =~ /\+PONG/;
}

# redis-cli with these arguments; returns its output without the last
# newline (a list in list context).
sub cmd {
    my ($self, @args) = @_;
    my @c = ('redis-cli', '-h', '127.0.0.1', '-p', $self->{port});
    push @c, '--no-auth-warning', '-a', $self->{password}
        if $self->{password};
    open my $fh, '-|', @c, @args or croak "redis-cli: $!";
    my @out = <$fh>;
    close $fh;
    chomp @out;
    return wantarray ? @out : join("\n", @out);
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('CONT', $self->{pid});
    CORE::kill('TERM', $self->{pid});
    OxTest::_reap($self->{pid}, 10) or $self->kill;
    delete $self->{pid};
}

sub kill {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('KILL', $self->{pid});
    OxTest::_reap($self->{pid}, 10);
    delete $self->{pid};
}

sub sigstop { OxTest::_sigstop($_[0]{pid}) }
sub sigcont { CORE::kill('CONT', $_[0]{pid}) if $_[0]{pid}; }

sub _cleanup { $_[0]->stop }


# ================================================================ nginx

package OxTest::Nginx;

use strict;
use warnings;
use Carp qw(croak);
use Time::HiRes qw(time sleep);

my $NGINX = '/usr/sbin/nginx';

# nginx($http_text, %opts).  Options:
#   workers => N          worker_processes (default 1)
#   debug => 1            error_log at debug level (default info)
#   main => TEXT          extra main-context directives (thread_pool, ...)
#   events => TEXT        extra events directives
#   worker_connections => N  (default 1024)
#   db => OxTest::DB      for %%DB_NAME%%, %%DB_PORT%%, %%DB_SOCKET%%
#   redis => OxTest::Redis  for %%REDIS_PORT%%
#   vars => {NAME => v}   more %%NAME%% placeholders
#   allow => qr/.../      error_log lines matching it are not failures
#   no_load => 1          do not load the module (the "limit" config)
#   env => {NAME => v}    environment of nginx (the master; workers keep
#                         only what `env` directives name, but libraries
#                         read theirs at load time)
#   preload => [SO, ...]  LD_PRELOAD these (after the sanitizer runtimes)
# Placeholders %%PORT_<X>%% get a free port each (->port('X')).
sub _new {
    my ($class, $conf, %o) = @_;
    OxTest::_need_env();
    my $id = OxTest::free_port();
    my $dir = OxTest::tmpdir() . "/nginx-$id";
    mkdir $dir or croak "$dir: $!";
    my $self = bless { dir => $dir, opts => \%o, ports => {} }, $class;

    local %ENV = (%ENV, $self->_env);
    for my $try (1 .. 3) {
        $self->_write_conf($conf);
        my $out = `$NGINX -p '$dir/' -e '$dir/error.log' -c '$dir/nginx.conf' 2>&1`;
        last if $? == 0;
        # a port picked for us was taken meanwhile (other test runs on the
        # machine): pick new ones
        if ($try < 3 && $out =~ /bind\(\) to 127\.0\.0\.1:\d+ failed \(98/) {
            Test::More::diag("nginx: a port was taken, new ports");
            $self->{ports} = {};
            unlink "$dir/error.log";
            next;
        }
        Test::More::diag("nginx failed to start: $out"
                         . (OxTest::_slurp("$dir/error.log") // ''));
        $self->_check_sanitizers;
        croak "nginx did not start";
    }
    push @CLEANUP, $self;
    my $ok = OxTest::wait_for(sub {
        return 0 unless $self->master_pid;
        for my $p (values %{ $self->{ports} }) {
            return 0 unless OxTest::_port_open($p);
        }
        return 1;
    }, 15);
    croak "nginx did not listen: " . $self->error_log unless $ok;
    # the master listens before it forks the workers: a test that counts
    # on every worker (->worker_pids) must find them all
    my $want = $o{workers} // 1;
    OxTest::wait_for(sub { my @w = $self->worker_pids; @w >= $want }, 15)
        or croak "nginx: not all $want workers started: " . $self->error_log;
    $self->{running} = 1;
    return $self;
}

sub _check {
    my ($class, $conf, %o) = @_;
    OxTest::_need_env();
    my $id = OxTest::free_port();
    my $dir = OxTest::tmpdir() . "/nginx-check-$id";
    mkdir $dir or croak "$dir: $!";
    my $self = bless { dir => $dir, opts => \%o, ports => {} }, $class;
    $self->_write_conf($conf);
    local %ENV = (%ENV, $self->_env);
    my $out = `$NGINX -t -p '$dir/' -e '$dir/error.log' -c '$dir/nginx.conf' 2>&1`;
    return ($? >> 8, $out);
}

sub _env {
    my ($self) = @_;
    my %env = %{ $self->{opts}{env} // {} };
    my @preload = @{ $self->{opts}{preload} // [] };
    if ($ENV{OXM_ASAN}) {
        # The module is built with ASan/UBSan, Debian's nginx binary is
        # not: the runtimes must be loaded first.  Leak detection stays
        # off: nginx's master exits without freeing its cycle pools by
        # design, and each forked worker would report the master's
        # allocations as leaks.
        my @libs;
        for my $l ('libasan.so', 'libubsan.so') {
            chomp(my $p = `gcc -print-file-name=$l`);
            push @libs, $p if $p =~ m{/};
        }
        unshift @preload, @libs;
        $env{ASAN_OPTIONS} = "detect_leaks=0:log_path=$self->{dir}/asan"
                             . ':abort_on_error=0:symbolize=1';
        $env{UBSAN_OPTIONS} = "print_stacktrace=1:log_path=$self->{dir}/ubsan";
    }
    $env{LD_PRELOAD} = join ' ', @preload if @preload;
    return %env;
}

sub _write_conf {
    my ($self, $conf) = @_;
    my %o = %{ $self->{opts} };
    my $dir = $self->{dir};
    my %vars = (TMP => $dir,
                DB_PORT => $ENV{OXM_MYSQL_PORT},
                DB_SOCKET => $ENV{OXM_MYSQL_SOCKET},
                %{ $o{vars} // {} });
    if ($o{db}) {
        $vars{DB_NAME} = $o{db}->name;
        $vars{DB_PORT} = $o{db}->port;
        $vars{DB_SOCKET} = $o{db}->socket;
    }
    $vars{REDIS_PORT} = $o{redis}->port if $o{redis};
    # vars may hold placeholders themselves: a few rounds
    for (1 .. 3) {
        $conf =~ s{%%PORT_(\w+?)%%}{
            $self->{ports}{$1} //= OxTest::free_port()
        }ge;
        $conf =~ s{%%(\w+)%%}{
            defined $vars{$1} ? $vars{$1}
                              : croak "nginx: no value for %%$1%%"
        }ge;
    }

    my $workers = $o{workers} // 1;
    my $level = $o{debug} ? 'debug' : 'info';
    my $load = $o{no_load} ? '' : "load_module $ENV{OXM_MODULE};";
    my $user = $> == 0 ? 'user root root;' : '';
    my $main = $o{main} // '';
    my $events = $o{events} // '';
    my $wconn = $o{worker_connections} // 1024;
    OxTest::_spew("$dir/nginx.conf", <<"EOF");
$load
$user
daemon on;
master_process on;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log $level;
$main

events {
    worker_connections $wconn;
$events
}

http {
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    access_log $dir/access.log;
    default_type text/plain;

$conf
}
EOF
}

sub dir  { $_[0]{dir} }
sub conf { OxTest::_slurp("$_[0]{dir}/nginx.conf") }

sub port {
    my ($self, $name) = @_;
    $name //= 'A';
    croak "no %%PORT_$name%% in the config" unless $self->{ports}{$name};
    return $self->{ports}{$name};
}

sub master_pid {
    my ($self) = @_;
    my $p = OxTest::_slurp("$self->{dir}/nginx.pid") // return undef;
    $p =~ s/\s+//g;
    return undef unless $p && kill(0, $p);
    return $p;
}

# pids of the master's worker processes (from /proc)
sub worker_pids {
    my ($self) = @_;
    my $m = $self->master_pid or return ();
    my @w;
    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my $stat = OxTest::_slurp("/proc/$pid/stat") // next;
        my ($ppid) = $stat =~ /^\d+ \(.*\) \S+ (\d+)/s or next;
        next unless $ppid == $m;
        my $cmd = OxTest::_slurp("/proc/$pid/cmdline") // '';
        push @w, $pid if $cmd =~ /worker process/;
    }
    closedir $dh;
    return sort { $a <=> $b } @w;
}

# Rewrites the config (when a new text is given) and reloads like
# `nginx -s reload`; returns when a new generation of workers runs.  Ports
# keep their numbers; new %%PORT_X%% names get new ports.
sub reload {
    my ($self, $conf) = @_;
    $self->_write_conf($conf) if defined $conf;
    my $m = $self->master_pid or croak "nginx is not running";
    my %old = map { $_ => 1 } $self->worker_pids;
    my $want = $self->{opts}{workers} // 1;
    kill 'HUP', $m;
    my $ok = OxTest::wait_for(sub {
        my @new = grep { !$old{$_} } $self->worker_pids;
        return @new >= $want;
    }, 15);
    croak "nginx reload: no new workers: " . $self->error_log unless $ok;
    # old workers finish their requests, then exit
    OxTest::wait_for(sub {
        !grep { $old{$_} } $self->worker_pids
    }, 10);
    for my $p (values %{ $self->{ports} }) {
        OxTest::wait_for(sub { OxTest::_port_open($p) }, 5);
    }
    return $self;
}

# Runs `nginx -s SIGNAL` (reload, reopen, quit, stop) with this config and
# the same environment as the server; returns the command's exit status.
# reload: returns when a new generation of workers runs (see reload()).
sub signal {
    my ($self, $sig) = @_;
    my $dir = $self->{dir};
    my %old = map { $_ => 1 } $self->worker_pids;
    local %ENV = (%ENV, $self->_env);
    my $out = `$NGINX -p '$dir/' -e '$dir/error.log' -c '$dir/nginx.conf' -s $sig 2>&1`;
    my $rc = $? >> 8;
    Test::More::diag("nginx -s $sig: $out") if $rc;
    if ($sig eq 'reload' && !$rc) {
        my $want = $self->{opts}{workers} // 1;
        OxTest::wait_for(sub {
            (grep { !$old{$_} } $self->worker_pids) >= $want
        }, 15) or Test::More::diag("nginx -s reload: no new workers");
    }
    return $rc;
}

# Graceful stop, then the checks, each an ok(): sanitizer reports and
# [alert]/[emerg]/crashed workers in error.log fail the test.  Call it
# before done_testing(); an nginx still running when the test file ends is
# stopped too, but then only a failing check is reported.
sub stop {
    my ($self, $quiet) = @_;
    return unless $self->{running};
    $self->{running} = 0;
    my $m = $self->master_pid;
    if ($m) {
        kill 'QUIT', $m;
        unless (OxTest::wait_for(sub { !kill(0, $m) }, 15)) {
            Test::More::diag("nginx did not quit in 15 s, TERM");
            kill 'TERM', $m;
            OxTest::wait_for(sub { !kill(0, $m) }, 5) or kill 'KILL', $m;
        }
    }
    my @san = $self->_sanitizer_reports;
    my @bad = $self->_bad_log_lines;
    if (!$quiet || @san) {
        Test::More::ok(!@san, 'no ASan/UBSan reports from nginx')
            if $ENV{OXM_ASAN} || @san;
        Test::More::diag($_) for @san;
    }
    if (!$quiet || @bad) {
        Test::More::ok(!@bad, 'no alert, emerg or crash in nginx error.log')
            or Test::More::diag(join "\n",
                                @bad[0 .. ($#bad > 19 ? 19 : $#bad)]);
    }
    return !@san && !@bad;
}

sub error_log { OxTest::_slurp("$_[0]{dir}/error.log") // '' }
sub access_log { OxTest::_slurp("$_[0]{dir}/access.log") // '' }

# Lines logged since the last call (or since start).
sub error_log_new {
    my ($self) = @_;
    my $t = $self->error_log;
    my $new = substr($t, $self->{log_off} // 0);
    $self->{log_off} = length $t;
    return $new;
}

sub _sanitizer_reports {
    my ($self) = @_;
    opendir my $dh, $self->{dir} or return ();
    my @f = sort grep { /^(asan|ubsan)\./ } readdir $dh;
    closedir $dh;
    return map { "$_:\n" . (OxTest::_slurp("$self->{dir}/$_") // '') } @f;
}

sub _check_sanitizers {
    my ($self) = @_;
    Test::More::diag($_) for $self->_sanitizer_reports;
}

sub _bad_log_lines {
    my ($self) = @_;
    my $allow = $self->{opts}{allow};
    return grep {
        /\[(alert|emerg)\]|worker process \d+ exited on signal/
        && !($allow && $_ =~ $allow)
    } split /\n/, $self->error_log;
}

sub _cleanup { $_[0]->stop(1) }


# ================================================================ backend

# A tiny HTTP/1.1 backend in a forked Perl process: answers every request
# with 200 and the request body byte for byte, plus headers X-Method,
# X-Uri, X-Body-Length, X-Body-Md5 and X-Backend (the name given).
# Chunked request bodies are de-chunked.  echo_backend(name => 'old')
# ->heads: the "METHOD URI" of every request whose head arrived, noted
# before its body is read (so a test sees whether nginx forwarded a request
# before the client had sent all of its body).

package OxTest::Echo;

use strict;
use warnings;
use Carp qw(croak);
use Digest::MD5 qw(md5_hex);
use IO::Socket::INET;

sub _new {
    my ($class, %o) = @_;
    my $name = $o{name} // 'echo';
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Listen => 128, ReuseAddr => 1)
        or croak "echo backend: $!";
    my $port = $srv->sockport;
    $USED_PORTS{$port}++;
    my $heads = OxTest::tmpdir() . "/echo-$port.heads";
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        while (my $c = $srv->accept) {
            my $kid = fork;
            if (defined $kid && $kid == 0) {
                close $srv;
                eval { _serve($c, $name, $heads) };
                POSIX::_exit(0);
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
    my $self = bless { pid => $pid, port => $port, heads => $heads }, $class;
    push @CLEANUP, $self;
    return $self;
}

sub port { $_[0]{port} }

# "METHOD URI" of every request whose head reached the backend, in order
sub heads {
    my ($self) = @_;
    my $t = OxTest::_slurp($self->{heads}) // '';
    return split /\n/, $t;
}

sub _serve {
    my ($c, $name, $heads) = @_;
    local $/ = "\r\n";
    while (1) {
        my $line = <$c>;
        return unless defined $line;
        next if $line eq "\r\n";
        my ($method, $uri) = $line =~ /^(\S+) (\S+)/ or return;
        my %h;
        while (my $l = <$c>) {
            last if $l eq "\r\n";
            $l =~ s/\r\n$//;
            my ($k, $v) = split /:\s*/, $l, 2;
            $h{lc $k} = $v;
        }
        if (open my $fh, '>>', $heads) {
            syswrite $fh, "$method $uri\n";
            close $fh;
        }
        my $body = '';
        if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            while (my $sz = <$c>) {
                my $n = hex $sz;
                if ($n == 0) { <$c>; last }
                read($c, my $chunk, $n);
                $body .= $chunk;
                <$c>;
            }
        } elsif (my $n = $h{'content-length'}) {
            my $got = 0;
            while ($got < $n) {
                my $r = read($c, $body, $n - $got, $got) or last;
                $got += $r;
            }
        }
        my $ka = ($h{connection} // '') !~ /close/i;
        print $c "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            . "X-Backend: $name\r\nX-Method: $method\r\nX-Uri: $uri\r\n"
            . "X-Body-Length: " . length($body) . "\r\n"
            . "X-Body-Md5: " . md5_hex($body) . "\r\n"
            . "Content-Length: " . length($body) . "\r\n"
            . ($ka ? '' : "Connection: close\r\n") . "\r\n" . $body;
        return unless $ka;
    }
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('TERM', $self->{pid});
    OxTest::_reap($self->{pid}, 5) or CORE::kill('KILL', $self->{pid});
    delete $self->{pid};
}

sub _cleanup { $_[0]->stop }

1;
