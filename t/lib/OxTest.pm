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
#
# The fixtures live in a module each, as nginx-tests keeps one per protocol:
# OxTest/MariaDB.pm (the suite's and private servers, OxTest::DB),
# OxTest/Redis.pm, OxTest/Nginx.pm, OxTest/HTTP.pm (the client, logins, the
# checks of OX's answers), OxTest/Echo.pm and OxTest/Clock.pm (the tests'
# clock: oxmigrate_test_clock).  A test file uses only
# OxTest: its functions and exports stay what they were.

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

# for the fixture modules (OxTest/*.pm)
sub _at_end     { push @CLEANUP, @_ }
sub _port_taken { $USED_PORTS{$_[0]}++ }


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


# ---------------------------------------------------------------- fixtures

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


# the tests' clock (oxmigrate_test_clock): OxTest/Clock.pm
sub test_clock {
    return OxTest::Clock->_new(@_);
}


# ---------------------------------------------------------------- HTTP

# The fixtures, one module each (as nginx-tests keeps one per protocol);
# OxTest stays the one module a test file uses.
require OxTest::HTTP;
require OxTest::MariaDB;
require OxTest::Redis;
require OxTest::Nginx;
require OxTest::Echo;
require OxTest::Clock;

for my $f (qw(http http_start http_many http_raw http_raw_start
              uri_escape login login_start standins oxerror_ok pass_ok
              redirect_ok)) {
    no strict 'refs';
    *{"OxTest::$f"} = \&{"OxTest::HTTP::$f"};
}

1;
