# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxStorm;
# Many raw HTTP connections at once, each following a script, on one
# thread (non-blocking sockets and select): the hostile clients of
# t/16-leak.t.  Core Perl modules only.
#
#   my @res = OxStorm::storm(
#       port => $P, count => 500, concurrency => 40, timeout => 10,
#       script => sub { my ($i) = @_;
#                       return ([send => $head], [sleep => 0.1],
#                               [send => "zz\r\n"], ['read']) });
#
# Steps: [send => BYTES] writes them (as fast as the socket takes them),
# [sleep => SECONDS] waits, [close] drops the connection (a client that
# gives up), [read] waits until the server closes.  Whatever the server
# sends is read all the time, so an early answer (413 before the body is
# sent) ends the script: the connection is done when the server closes it.
# Returns one hash per request, in order: {status} (0 when no status line
# came), {error} ('timeout', 'connect', 'aborted' for [close]), {raw}.
# After max_failures requests without an answer (default 50) the rest are
# not started: a leaking server would only make the test wait.

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Errno qw(EAGAIN EWOULDBLOCK EINPROGRESS);
use Time::HiRes qw(time);

sub storm {
    my (%o) = @_;
    my $count = $o{count};
    my $conc = $o{concurrency} // 20;
    my $timeout = $o{timeout} // 10;
    my $max_fail = $o{max_failures} // 50;
    local $SIG{PIPE} = 'IGNORE';

    my (@res, %live);
    my ($next, $failed) = (0, 0);

    while ($next < $count || %live) {
        while ($next < $count && keys(%live) < $conc && $failed < $max_fail) {
            my $i = $next++;
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $o{port},
                                          Blocking => 0);
            if (!$s) {
                $res[$i] = { status => 0, error => 'connect', raw => '' };
                $failed++;
                next;
            }
            $live{$i} = { s => $s, steps => [ $o{script}->($i) ], out => '',
                          in => '', wake => 0, start => time };
        }
        last if !%live;
        $count = $next if $failed >= $max_fail;

        my ($rs, $ws) = (IO::Select->new, IO::Select->new);
        my $now = time;
        my $wait = 0.05;
        for my $i (keys %live) {
            my $c = $live{$i};
            _advance($c, $now);
            $rs->add($c->{s}) unless $c->{eof};
            $ws->add($c->{s}) if length $c->{out};
        }
        my ($r, $w) = IO::Select->select($rs, $ws, undef, $wait);
        my %rd = map { fileno($_) => 1 } @{ $r // [] };
        my %wr = map { fileno($_) => 1 } @{ $w // [] };
        $now = time;

        for my $i (keys %live) {
            my $c = $live{$i};
            my $fd = fileno($c->{s});
            if ($rd{$fd}) {
                my $n = sysread($c->{s}, my $buf, 65536);
                if (defined $n && $n > 0) {
                    $c->{in} .= $buf;
                } elsif (defined $n || !($!{EAGAIN} || $!{EWOULDBLOCK})) {
                    $c->{eof} = 1;      # closed or reset by the server
                }
            }
            if ($wr{$fd} && length $c->{out}) {
                my $n = syswrite($c->{s}, $c->{out});
                if (defined $n) {
                    substr($c->{out}, 0, $n) = '';
                } elsif (!($!{EAGAIN} || $!{EWOULDBLOCK})) {
                    $c->{out} = '';     # the server is gone: read the rest
                    $c->{steps} = [];
                }
            }
            my $done;
            if ($c->{eof}) {
                $done = _result($c);
            } elsif ($c->{aborted}) {
                $done = { status => 0, error => 'aborted', raw => $c->{in} };
            } elsif ($now - $c->{start} > $timeout) {
                $done = { status => 0, error => 'timeout', raw => $c->{in} };
                $failed++;
            }
            if ($done) {
                close $c->{s};
                $res[$i] = $done;
                delete $live{$i};
            }
        }
    }
    return @res;
}

# runs the script up to the next step that has to wait
sub _advance {
    my ($c, $now) = @_;
    while (@{ $c->{steps} } && !length $c->{out} && $now >= $c->{wake}) {
        my ($op, $arg) = @{ shift @{ $c->{steps} } };
        if ($op eq 'send') {
            $c->{out} = $arg;
        } elsif ($op eq 'sleep') {
            $c->{wake} = $now + $arg;
        } elsif ($op eq 'close') {
            $c->{aborted} = 1;
            $c->{steps} = [];
        } elsif ($op eq 'read') {
            $c->{steps} = [];   # nothing more to send: wait for the close
        }
    }
}

sub _result {
    my ($c) = @_;
    my ($status) = $c->{in} =~ m{^HTTP/1\.[01] (\d{3})};
    return { status => $status // 0, raw => $c->{in},
             error => defined $status ? undef : 'no status line' };
}

# Client connections a process holds on a local port: its socket fds whose
# TCP entry (IPv4, loopback) has that local port and is not listening.
sub client_sockets {
    my ($pid, $port) = @_;
    my %inode;
    opendir my $dh, "/proc/$pid/fd" or return -1;
    for my $fd (readdir $dh) {
        my $l = readlink("/proc/$pid/fd/$fd") // next;
        $inode{$1} = 1 if $l =~ /^socket:\[(\d+)\]$/;
    }
    closedir $dh;
    open my $fh, '<', "/proc/$pid/net/tcp" or return -1;
    my $n = 0;
    while (<$fh>) {
        my @f = split ' ';
        next unless @f > 9 && $f[1] =~ /:([0-9A-F]{4})$/;
        next unless hex($1) == $port && $f[3] ne '0A' && $inode{$f[9]};
        $n++;
    }
    return $n;
}

# the number of open file descriptors of a process
sub fds {
    my ($pid) = @_;
    opendir my $dh, "/proc/$pid/fd" or return -1;
    my $n = grep { /^\d+$/ } readdir $dh;
    closedir $dh;
    return $n;
}

1;
