# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxTest::MariaDB;

# MariaDB fixtures: the suite's server (t/run.sh) and private ones
# (OxTest::mariadb_private), a test database (OxTest::DB) and background
# sessions (OxTest::Bg).  Used through OxTest (OxTest::db, ...).

require OxTest;

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
    # its own tmpdir: the server's temporary tables must not meet anybody
    # else's in /tmp
    mkdir "$dir/tmp" or croak "$dir/tmp: $!";
    _init_datadir("$dir/data", "$dir/install-db.log");
    OxTest::_at_end($self);
    $self->start;
    $self->do("CREATE USER IF NOT EXISTS 'root'\@'127.0.0.1' "
              . "IDENTIFIED BY ''");
    $self->do("GRANT ALL PRIVILEGES ON *.* TO 'root'\@'127.0.0.1' "
              . "WITH GRANT OPTION");
    return $self;
}

# An initialised data directory: a copy of the one t/run.sh made once
# ($OXM_MYSQL_TEMPLATE), or mariadb-install-db (seconds of fsyncs) when
# there is none.
sub _init_datadir {
    my ($data, $log) = @_;
    my $tpl = $ENV{OXM_MYSQL_TEMPLATE};
    if ($tpl && -d $tpl) {
        system('cp', '-a', $tpl, $data) == 0
            or croak "cp -a $tpl $data failed";
        return;
    }
    my @user = $> == 0 ? ('--user=root') : ();
    my $tmp = File::Basename::dirname($data) . '/tmp';
    system("mariadb-install-db --no-defaults @user --datadir='$data' "
           . "--tmpdir='$tmp' --innodb-log-file-size=8M "
           . "--auth-root-authentication-method=normal --skip-test-db "
           . ">'$log' 2>&1") == 0
        or croak "mariadb-install-db failed: " . (OxTest::_slurp($log) // '');
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
    $self->_disconnect;
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
    $self->_disconnect;
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
# Returns an arrayref of rows, each an arrayref of columns (NULL: undef),
# the rows of every statement that returns some, in order.  Bytes in,
# bytes out (the connection speaks utf8mb4, nothing is decoded).
# Dies with the server's message on an error.
sub sql_in {
    my ($self, $database, $stmt) = @_;
    my $dbh = $self->_dbh;
    my @rows;
    my $ok = eval {
        if (defined $database
            && ($self->{cur_db} // "\0") ne $database)
        {
            delete $self->{cur_db};
            $dbh->do('USE ' . $dbh->quote_identifier($database));
            $self->{cur_db} = $database;
        }
        # the statement may switch databases itself
        delete $self->{cur_db} if $stmt =~ /\bUSE\b/i;
        my $sth = $dbh->prepare($stmt);
        $sth->execute;
        do {
            push @rows, @{ $sth->fetchall_arrayref } if $sth->{NUM_OF_FIELDS};
        } while ($sth->more_results);
        1;
    };
    return \@rows if $ok;
    my $msg = $dbh->err ? 'ERROR ' . $dbh->err . ': ' . $dbh->errstr : $@;
    # the server went away (stopped, killed): connect anew next time
    $self->_disconnect if !$dbh->ping;
    croak "SQL failed ($msg): $stmt";
}

# One connection per server and process (a forked child opens its own),
# over the unix socket as root; connected again when the server went away.
sub _dbh {
    my ($self) = @_;
    my $dbh = $self->{dbh};
    if ($dbh && ($self->{dbh_pid} != $$ || !$dbh->ping)) {
        $self->_disconnect;
        $dbh = undef;
    }
    return $dbh if $dbh;
    require DBI;
    $dbh = DBI->connect("DBI:mysql:mysql_socket=$self->{socket}", 'root', '',
                        { RaiseError => 1, PrintError => 0, AutoCommit => 1,
                          AutoInactiveDestroy => 1,
                          mysql_multi_statements => 1 })
        or croak "MariaDB at $self->{socket}: $DBI::errstr";
    $dbh->do('SET NAMES utf8mb4');
    $self->{dbh} = $dbh;
    $self->{dbh_pid} = $$;
    delete $self->{cur_db};
    return $dbh;
}

sub _disconnect {
    my ($self) = @_;
    my $dbh = delete $self->{dbh} or return;
    delete $self->{cur_db};
    if ($self->{dbh_pid} != $$) {
        $dbh->{InactiveDestroy} = 1;     # the parent's connection
    } else {
        eval { $dbh->disconnect };
    }
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
    OxTest::_at_end($self) unless $self->{private} || $self->{registered}++;
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
    OxTest::_at_end($bg);
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

1;
