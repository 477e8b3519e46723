# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
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
require OxTest;
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
    OxTest::_port_taken($port);
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
    OxTest::_at_end($self);
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
