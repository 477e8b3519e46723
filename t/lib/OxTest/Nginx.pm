# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxTest::Nginx;

# nginx with the module under test (OxTest::nginx, OxTest::nginx_check).

require OxTest;

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
    OxTest::_at_end($self);
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

# Freezes the workers (SIGSTOP, returns when they are stopped) and thaws
# them: what a test looks at meanwhile cannot race them.
sub sigstop_workers {
    my ($self) = @_;
    $self->{frozen} = [ $self->worker_pids ];
    OxTest::_sigstop($_) for @{ $self->{frozen} };
}

sub sigcont_workers {
    my ($self) = @_;
    kill 'CONT', @{ delete $self->{frozen} // [] };
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

1;
