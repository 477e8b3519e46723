# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxStand::Base;

# Shared parts of the OX tool stand-in (t/oxtools/oxtool): the node
# directory's configuration, the call log, SQL through DBI (DBD::mysql),
# the version flavours, OX's two table writers, CSV and the help texts.
# t/oxtools/FORMATS.md says which OX class each output comes from.

use strict;
use warnings;
use Exporter qw(import);
use JSON::PP;
use Time::HiRes qw(time);
use Fcntl qw(:flock);
use POSIX ();

our @EXPORT = qw(conf dir tool out err finish slurp now sql sql_try sqlq
                 flavour vcmp version_at_least tasks_of excluded_file
                 excluded_ns table_writer do_output csv_output node_log
                 simple_name schema_info config_bool J);

use constant REASON => 1431655765;
use constant LOCKED_UUID => '8d8b93e559794baca39daef8f87087a1';

my $J = JSON::PP->new->utf8->canonical;
my ($CONF, $DIR, $TOOL, @ARGV0, $START);

sub J { $J }

sub init {
    my (%o) = @_;
    ($DIR, $TOOL) = ($o{dir}, $o{tool});
    @ARGV0 = @{ $o{argv} };
    $START = now();
    $CONF = $J->decode(slurp("$DIR/oxtool.json"));
    $SIG{TERM} = sub { log_call(undef, 'TERM'); POSIX::_exit(143) };
}

sub conf { $CONF }
sub dir { $DIR }
sub tool { $TOOL }

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

# the node's clock: the tests' clock when the site has one (a file holding
# an offset in seconds: oxmigrate_test_clock, t/lib/OxTest/Clock.pm)
sub now {
    my $off = 0;
    if ($CONF && $CONF->{clock} && open my $fh, '<', $CONF->{clock}) {
        $off = (<$fh> // 0) + 0;
        close $fh;
    }
    return int((time + $off) * 1000);
}

# when this process was created (ms, 10 ms steps): the fork that started
# it, before the interpreter loaded; exec() keeps it.  For measurements
# (bench/bench-admin.sh: a tool's whole time), not an OX behaviour.
sub spawned {
    open my $s, '<', '/proc/self/stat' or return undef;
    my $st = <$s>;
    close $s;
    open my $u, '<', '/proc/uptime' or return undef;
    my ($up) = split ' ', scalar <$u>;
    close $u;
    $st =~ s/^.*\) //s;
    my $ticks = (split ' ', $st)[19];
    return defined $ticks ? int(now() - ($up - $ticks / 100) * 1000) : undef;
}

# stdout (autoflushed by oxtool) and stderr
sub out { print STDOUT @_ }
sub err { print STDERR @_ }

sub log_call {
    my ($code, $signal) = @_;
    my $log = $CONF->{log} or return;
    open my $fh, '>>', $log or return;
    flock $fh, LOCK_EX;
    my $pw = $ENV{ADMIN_PASSWORD};
    print $fh $J->encode({
        cluster => $CONF->{cluster}, tool => $TOOL, argv => \@ARGV0,
        pid => $$, start => $START, end => now(), exit => $code,
        spawned => spawned(),
        env_password => (defined $pw && length $pw)
            ? JSON::PP::true : JSON::PP::false,
        version => $CONF->{version} // '7.10.0',
        (defined $signal ? (signal => $signal) : ()) }), "\n";
    close $fh;
}

sub finish {
    my ($code) = @_;
    log_call($code);
    exit $code;
}

# ------------------------------------------------------------------ SQL

# Runs statements over one DBI connection per process (a forked child
# opens its own); rows as arrayrefs.  Dies with "ERROR <code> (<state>):
# text" (the mariadb client's words) on an SQL error.
sub sql {
    my ($db, $stmt) = @_;
    my ($rows, $e) = sql_try($db, $stmt);
    die $e if defined $e;
    return $rows;
}

my ($DBH, $DBH_PID, $DBH_DB);

sub _dbh {
    if ($DBH && ($DBH_PID != $$ || !$DBH->ping)) {
        $DBH->{InactiveDestroy} = 1 if $DBH_PID != $$;
        undef $DBH;
    }
    return $DBH if $DBH;
    require DBI;
    $DBH = DBI->connect("DBI:mysql:mysql_socket=$CONF->{socket}", 'root',
                        '', { RaiseError => 1, PrintError => 0,
                              AutoInactiveDestroy => 1,
                              mysql_multi_statements => 1 });
    ($DBH_PID, $DBH_DB) = ($$, undef);
    return $DBH;
}

sub sql_try {
    my ($db, $stmt) = @_;
    my @rows;
    my $dbh = eval { _dbh() } or return (undef, "ERROR 2002: $@");
    my $ok = eval {
        if (defined $db && ($DBH_DB // '') ne $db) {
            undef $DBH_DB;
            $dbh->do('USE ' . $dbh->quote_identifier($db));
            $DBH_DB = $db;
        }
        undef $DBH_DB if $stmt =~ /\bUSE\b/i;
        my $sth = $dbh->prepare($stmt);
        $sth->execute;
        do {
            push @rows, @{ $sth->fetchall_arrayref } if $sth->{NUM_OF_FIELDS};
        } while ($sth->more_results);
        1;
    };
    return (\@rows, undef) if $ok;
    return (undef, 'ERROR ' . ($dbh->err // 0) . ' (' . ($dbh->state // '')
                   . '): ' . ($dbh->errstr // $@));
}

sub sqlq { my ($s) = @_; $s =~ s/(['\\])/\\$1/g; return "'$s'" }

# [pool id, pool name, jdbc url, schema] of a schema known to configdb
sub schema_info {
    my ($schema) = @_;
    my $r = sql($CONF->{configdb}, "SELECT d.db_pool_id, d.name, d.url,"
        . " p.db_schema FROM context_server2db_pool p JOIN db_pool d"
        . " ON d.db_pool_id = p.write_db_pool_id WHERE p.db_schema = "
        . sqlq($schema) . " LIMIT 1");
    return @$r ? $r->[0] : undef;
}

# ------------------------------------------------------------- versions

sub vcmp {
    my ($a, $b) = @_;
    my @a = split /\./, $a;
    my @b = split /\./, $b;
    for my $i (0 .. 2) {
        my $c = ($a[$i] // 0) <=> ($b[$i] // 0);
        return $c if $c;
    }
    return 0;
}

sub version_at_least { vcmp($CONF->{version} // '7.10.0', $_[0]) >= 0 }

# jmx (< 7.10.1), rmi (7.10.1 .. < 8), v8
sub flavour {
    return 'jmx' unless version_at_least('7.10.1');
    return 'rmi' unless version_at_least('8.0.0');
    return 'v8';
}

# a boolean of oxtool.json with a per-version default
sub config_bool {
    my ($key, $default) = @_;
    return exists $CONF->{$key} ? ($CONF->{$key} ? 1 : 0) : $default;
}

# ---------------------------------------------------------------- tasks

sub tasks_of {
    my $f = "$DIR/tasks.json";
    return -f $f ? $J->decode(slurp($f)) : [];
}

sub excluded_file { @{ $CONF->{excluded_tasks} // [] } }
sub excluded_ns   { @{ $CONF->{excluded_ns} // [] } }

# Java's getSimpleName() of a top-level class
sub simple_name { my ($n) = @_; $n =~ s/^.*\.//; return $n }

# ---------------------------------------------------------------- output

# com.openexchange.tools.console.TableWriter: every column %-Ws (left),
# joined by one space, the last column padded too.
sub table_writer {
    my ($rows) = @_;           # header row first
    my @w;
    for my $r (@$rows) {
        for my $i (0 .. $#$r) {
            my $l = length($r->[$i] // '');
            $w[$i] = $l if !defined $w[$i] || $l > $w[$i];
        }
    }
    return join '', map {
        my $r = $_;
        join(' ', map { sprintf('%-*s', $w[$_], $r->[$_] // '') } 0 .. $#$r)
            . "\n" } @$rows;
}

# BasicCommandlineOptions.doOutput: alignment per column ('l'/'r'), width
# = max(header, values), joined by one space, last column padded too.
sub do_output {
    my ($align, $head, $rows) = @_;
    my @w = map { length } @$head;
    for my $r (@$rows) {
        for my $i (0 .. $#$r) {
            my $l = length($r->[$i] // '');
            $w[$i] = $l if $l > $w[$i];
        }
    }
    my $line = sub {
        my ($r) = @_;
        return join(' ', map {
            sprintf($align->[$_] eq 'l' ? '%-*s' : '%*s', $w[$_],
                    $r->[$_] // '') } 0 .. $#$r) . "\n";
    };
    return join '', $line->($head), map { $line->($_) } @$rows;
}

# BasicCommandlineOptions.doCSVOutput
sub csv_output {
    my ($head, $rows) = @_;
    my $s = join(',', @$head) . "\n";
    for my $r (@$rows) {
        $s .= join(',', map { defined $_ ? do { (my $v = $_) =~ s/"/""/g;
                                               "\"$v\"" } : '' } @$r) . "\n";
    }
    return $s;
}

# a line of the node's log (DIR/node.log)
sub node_log {
    my ($level, $msg) = @_;
    open my $fh, '>>', "$DIR/node.log" or return;
    flock $fh, LOCK_EX;
    my @t = gmtime;
    printf $fh "%04d-%02d-%02dT%02d:%02d:%02dZ %s %s\n", $t[5] + 1900,
        $t[4] + 1, @t[3, 2, 1, 0], $level, $msg;
    close $fh;
}

1;
