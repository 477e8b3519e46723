# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxStand::Node;

# What happens inside the OX node (the JVM) for the update-task tools:
# UpdateProcess / UpdateExecutor / SchemaStoreImpl (FORMATS.md section 3).
# runupdate's work runs in a detached process (its own session and process
# group, stdio on /dev/null) that the client waits for: killing the client
# or its process group leaves the update running, as in OX.  Errors inside
# the update (lock held by another runner, SQL errors of the bookkeeping)
# are written to DIR/node.log and never reach the client.
#
# Fault injection (tasks.json, per task): sleep, sleep_if_table, hang (runs
# until killed), fail_if_table, sql (an SQL error in it fails the task),
# sql_error_if_table (an SQL error while recording the task: the update
# aborts); node.json in the cluster dir: {"sql_error": "lock"|"unlock"}.

use strict;
use warnings;
use Exporter qw(import);
use POSIX ();
use Time::HiRes qw(sleep time);
use OxStand::Base;

our @EXPORT_OK = qw(pending_tasks lock_row run_detached force_task
                    task_rows table_exists);

my $U = OxStand::Base::LOCKED_UUID;

sub table_exists {
    my ($schema, $table) = @_;
    my ($r) = sql_try($schema, "SELECT 1 FROM information_schema.tables"
        . " WHERE table_schema = DATABASE() AND table_name = "
        . sqlq($table));
    return $r && @$r;
}

# every row of updateTask: [taskName, successful, lastModified]
sub task_rows {
    my ($schema) = @_;
    my ($r) = sql_try($schema, "SELECT taskName, successful, lastModified"
        . " FROM updateTask WHERE cid = 0 ORDER BY lastModified, taskName");
    return $r // [];
}

sub lock_row {
    my ($schema) = @_;
    for (@{ task_rows($schema) }) { return $_->[2] if $_->[0] eq 'LOCKED' }
    return undef;
}

sub _excluded {
    my ($t) = @_;
    return 1 if grep { $_ eq $t->{name} } excluded_file();
    return $t->{namespace} && grep { $_ eq $t->{namespace} } excluded_ns();
}

# UpdateTaskCollection: registered, not excluded, without an updateTask row
# (a failed task has a row: runupdate does not run it again)
sub pending_tasks {
    my ($schema) = @_;
    my %done = map { $_->[0] => 1 } @{ task_rows($schema) };
    return [ grep { !$done{ $_->{name} } && !_excluded($_) } @{ tasks_of() } ];
}

sub _create_table {
    my ($schema) = @_;
    sql($schema, "CREATE TABLE IF NOT EXISTS updateTask (cid INT UNSIGNED"
        . " NOT NULL, taskName VARCHAR(1024) NOT NULL, successful BOOLEAN"
        . " NOT NULL, lastModified BIGINT NOT NULL, uuid BINARY(16) NOT"
        . " NULL, PRIMARY KEY (cid, uuid), INDEX full (cid, taskName(191)))"
        . " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
}

sub _fault {
    my $f = dir() . '/node.json';
    return {} unless -f $f;
    return J()->decode(slurp($f));
}

sub _v8 { flavour() eq 'v8' }

sub _refresh_ms {
    return conf()->{refresh_ms} // (_v8() ? 20_000 : 300_000);
}

# SchemaStoreImpl.lockSchema; returns 1, or dies with the node's error
sub _lock {
    my ($schema) = @_;
    die "SQL problem: simulated SQL error while locking schema $schema\n"
        if (_fault()->{sql_error} // '') eq 'lock';
    my $now = now();
    my (undef, $e) = sql_try($schema, "INSERT INTO updateTask (cid,"
        . " taskName, successful, lastModified, uuid) VALUES (0, 'LOCKED',"
        . " true, $now, UNHEX('$U'))");
    return 1 unless $e;
    die "SQL problem: $e\n" unless $e =~ /\b1062\b|Duplicate entry/;
    my $idle = conf()->{idle_ms} // 60_000;
    if (_v8() && $idle > 0) {
        my $lm = lock_row($schema);
        if (defined $lm && $now - $lm > $idle) {
            my $n = sql($schema, "UPDATE updateTask SET lastModified = $now"
                . " WHERE cid = 0 AND taskName = 'LOCKED' AND lastModified"
                . " = $lm; SELECT ROW_COUNT()")->[0][0];
            if ($n) {
                node_log('WARN', "Took over the idle lock of schema $schema"
                         . " (last touched $lm)");
                return 1;
            }
        }
    }
    die "UPD-0003 Update conflict detected. Another process is currently"
        . " updating schema $schema.\n";
}

# the timer task that refreshes the lock (UpdateExecutor): a child that
# ends with its parent
sub _start_refresher {
    my ($schema) = @_;
    my $parent = $$;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    return $pid if $pid;
    $SIG{TERM} = 'DEFAULT';
    my $every = _refresh_ms() / 1000;
    while (1) {
        my $until = time + $every;
        while (time < $until) {
            POSIX::_exit(0) if getppid() != $parent;
            sleep(0.1);
        }
        my ($r, $e) = sql_try($schema, "UPDATE updateTask SET lastModified"
            . " = " . now() . " WHERE cid = 0 AND taskName = 'LOCKED';"
            . " SELECT ROW_COUNT()");
        if ($e) { node_log('WARN', "Failed to refresh lock for schema"
                           . " $schema: $e") }
        elsif ($r->[0][0]) { node_log('INFO', "Refreshed lock for schema"
                                      . " $schema") }
    }
}

sub _has_table { my ($s, $t) = @_; return $t && table_exists($s, $t) }

# one task: perform, then record it (SchemaStoreImpl.doAddExecutedTasks:
# update the row of that name in place, else insert one)
sub _perform {
    my ($schema, $t) = @_;
    my $simple = simple_name($t->{name});
    node_log('INFO', "Starting update task $simple on schema $schema.");
    my $nap = $t->{sleep} // 0;
    $nap = 0 if $t->{sleep_if_table} && !_has_table($schema,
                                                    $t->{sleep_if_table});
    sleep($nap) if $nap > 0;
    sleep(3600) while $t->{hang};
    my $ok = 1;
    $ok = 0 if _has_table($schema, $t->{fail_if_table});
    if ($ok && $t->{sql}) {
        my (undef, $e) = sql_try($schema, $t->{sql});
        if ($e) { $ok = 0; node_log('ERROR', "$simple: $e") }
    }
    node_log($ok ? 'INFO' : 'ERROR', "Update task $simple on schema $schema"
             . ($ok ? ' done.' : ' failed.'));
    die "SQL problem: simulated SQL error recording $t->{name}\n"
        if _has_table($schema, $t->{sql_error_if_table});
    my $n = sqlq($t->{name});
    my $now = now();
    sql($schema, "INSERT INTO updateTask (cid, successful, lastModified,"
        . " taskName, uuid) SELECT 0, $ok, $now, $n, UNHEX(REPLACE(UUID(),"
        . " '-', '')) FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM updateTask"
        . " WHERE cid = 0 AND taskName = $n); UPDATE updateTask SET"
        . " successful = $ok, lastModified = $now WHERE cid = 0 AND"
        . " taskName = $n");
    return $ok;
}

sub _unlock {
    my ($schema) = @_;
    die "SQL problem: simulated SQL error while unlocking schema $schema\n"
        if (_fault()->{sql_error} // '') eq 'unlock';
    my $n = sql($schema, "DELETE FROM updateTask WHERE cid = 0 AND taskName"
        . " = 'LOCKED'; SELECT ROW_COUNT()")->[0][0];
    die "UPD-0004 Update conflict detected. Schema $schema is not marked"
        . " as locked.\n" unless $n;
}

# UpdateExecutor.runUpdates(blocking) for the given tasks; the failures as
# [simple name, schema]; dies (after unlocking) on errors of the process
sub _execute {
    my ($schema, $tasks, $failures) = @_;
    node_log('INFO', "Starting blocking updates on schema $schema");
    _lock($schema);
    my $refresher = _start_refresher($schema);
    my $err;
    eval {
        for my $t (@$tasks) {
            push @$failures, [ simple_name($t->{name}), $schema ]
                unless _perform($schema, $t);
        }
        1;
    } or $err = $@;
    kill 'KILL', $refresher;
    waitpid $refresher, 0;
    eval { _unlock($schema); 1 } or $err //= $@;
    die $err if $err;
    node_log('INFO', "Finished blocking updates on schema $schema");
}

# UpdateProcess.run: errors are logged, never thrown
sub _update_process {
    my ($schema) = @_;
    my @failures;
    eval {
        my $pending = pending_tasks($schema);
        if (@$pending) {
            _create_table($schema);
            _execute($schema, $pending, \@failures);
        }
        1;
    } or do {
        my $e = $@;
        chomp $e;
        node_log('ERROR', $e);
    };
    return \@failures;
}

# runupdate's call into the node: runs the update of a schema in a
# detached process and returns its answer {failures => [...]} or
# {error => text}; undef when the node died without answering
sub run_detached {
    my ($schema) = @_;
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        close $r;
        POSIX::setsid();
        $SIG{TERM} = 'DEFAULT';
        $SIG{PIPE} = 'IGNORE';
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', dir() . '/node.log';
        my $pf = dir() . "/node-$schema.pid";
        if (open my $fh, '>', $pf) { print $fh "$$\n"; close $fh }
        my $answer;
        if (!schema_info($schema)) {
            $answer = { error => "Unknown schema name: $schema" };
            node_log('ERROR', $answer->{error});
        } else {
            $answer = { failures => _update_process($schema) };
        }
        unlink $pf;
        syswrite $w, J()->encode($answer);
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    local $/;
    my $text = <$r>;
    close $r;
    waitpid $pid, 0;
    return ($text // '') =~ /\S/ ? J()->decode($text) : undef;
}

# UpdateTaskToolkit.forceUpdateTask: the task on one schema, under the
# lock; errors are thrown to the client
sub force_task {
    my ($schema, $name) = @_;
    my ($t) = grep { $_->{name} eq $name } @{ tasks_of() };
    die "Unknown update task: $name\n" unless $t;
    die "Unknown schema name: $schema\n" unless schema_info($schema);
    _create_table($schema);
    _execute($schema, [$t], []);
}

1;
