# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxTest::Clock;

# The tests' clock (oxmigrate_test_clock FILE, docs/testing.md): FILE holds
# an offset in seconds that both modules add to the real time of every
# idle, ttl, heartbeat, lock, hole and window comparison.  Each worker
# looks at the file every 100 ms, so a test advances the clock and then
# polls for the state the timer leads to (OxTest::wait_for), instead of
# sleeping until a real timer expires.
#
#   my $clock = OxTest::test_clock();          # offset 0
#   my $ng = OxTest::nginx($clock->directive . $conf, ...);
#   $clock->advance(61, $ng);                  # one ttl of 60 s later
#   ok(OxTest::wait_for(sub { ... }, 10), ...);
#
# Given nginx objects, advance() and set() return once every worker of each
# has logged the new offset (it reads the file within 100 ms): a request
# after that sees the new time.
#
# The stand-in OX tools follow it too (OxAdmin::oxtools(clock => $clock)):
# the lock rows they write are in the clock's time.

use strict;
use warnings;

use Carp qw(croak);
use Time::HiRes qw(time);

sub _new {
    my ($class) = @_;
    my $self = bless { file => OxTest::tmpdir() . '/clock-'
                               . OxTest::free_port(), offset => 0 }, $class;
    $self->set(0);
    return $self;
}

sub file { $_[0]{file} }

# the directive, for the http{} level of a configuration
sub directive { "oxmigrate_test_clock $_[0]{file};\n" }

sub offset { $_[0]{offset} }

# the clock's time now: seconds since the epoch (fractional)
sub now { time + $_[0]{offset} }

# ... in milliseconds, as the admin API's rows hold it
sub now_ms { int((time + $_[0]{offset}) * 1000) }

# sets the offset (seconds); a new file (rename), never half written;
# waits until the workers of the nginx objects given saw it
sub set {
    my ($self, $s, @ng) = @_;
    my $old = $self->{offset};
    my $tmp = "$self->{file}.tmp";
    open my $fh, '>', $tmp or croak "$tmp: $!";
    printf $fh "%.3f\n", $s;
    close $fh or croak "$tmp: $!";
    rename $tmp, $self->{file} or croak "$self->{file}: $!";
    $self->{offset} = $s;
    $self->_seen(@ng) if $s != $old;
    return $self;
}

# moves the clock $s seconds forward (see set)
sub advance {
    my ($self, $s, @ng) = @_;
    return $self->set($self->{offset} + $s, @ng);
}

sub _seen {
    my ($self, @ng) = @_;
    my $ms = sprintf '%.0f', $self->{offset} * 1000;
    for my $ng (@ng) {
        my @pids = $ng->worker_pids;
        OxTest::wait_for(sub {
            my $log = $ng->error_log;
            return !grep { $log !~ /\] $_#\d+: oxmigrate_test_clock: offset $ms ms/ }
                   @pids;
        }, 10, 0.02) or croak "the workers (@pids) did not see offset $ms ms";
    }
}

1;
