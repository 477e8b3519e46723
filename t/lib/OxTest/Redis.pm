# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxTest::Redis;

# A private redis-server per call of OxTest::redis.

require OxTest;

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
    OxTest::_at_end($self);
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

1;
