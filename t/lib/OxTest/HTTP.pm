# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxTest::HTTP;

# The HTTP side of the harness: a raw HTTP/1.1 client (http, http_start,
# http_many, http_raw), logins as the App Suite UI and login forms send
# them, the stand-in clusters and the checks of OX's answers (oxerror_ok,
# pass_ok, redirect_ok).  OxTest exports these under its own name.

use strict;
use warnings;
require OxTest;

use Carp qw(croak);
use IO::Socket::INET;
use JSON::PP ();
use Test::More ();
use Time::HiRes qw(time sleep);

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
    OxTest::HTTP::_parse_response($res);
    return $res;
}

# the client gives up
sub close {
    my ($self) = @_;
    my $s = delete $self->{sock};
    CORE::close($s) if $s;
}


package OxTest::HTTP;

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
    my $j = OxTest::json($r->{body});
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

1;
