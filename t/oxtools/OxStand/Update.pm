# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxStand::Update;

# The clients of the update-task tools: runupdate, forceupdatetask,
# listUpdateTaskNamespaces, listUpdateTasks, in the generation of the
# node's version (FORMATS.md 0.3 and 2): JMX (7.10.0), RMI on the GPL-era
# AbstractRmiCLI (7.10.1 .. 7.10.x), RMI on the AGPL-era one (8.x).

use strict;
use warnings;
use sort 'stable';
use POSIX qw(strftime);
use OxStand::Base;
use OxStand::Cli;
use OxStand::Node qw(run_detached force_task task_rows);

my $TO = 'The optional response timeout in seconds when reading data from'
       . ' server (default: 0s; infinite)';
my $CTX = 'A valid context identifier contained in target schema';
my $NAME = "A valid schema name. This option is a substitute for"
         . " '-c/--context' option. If both are present '-c/--context' is"
         . " preferred.";
my $NS_FOOTER = 'This tools lists all namespaces for any update tasks'
    . ' and/or update task sets. The outcome of this tool can be used to '
    . " populate the property 'com.openexchange.groupware.update."
    . "excludedUpdateTasks'. Entries in that property will result in"
    . ' excluding all update tasks that are part  of that particular'
    . ' namespace.';
my $FORCE_C = "$CTX; if missing and '-n/--name' option is also absent all"
            . " schemas are considered.";
my $FORCE_N = "A valid schema name. This option is a substitute for"
    . " '-c/--context' option. If both are present '-c/--context' is"
    . " preferred. If both absent all schemas are considered.";

my @JMX = (
    { s => 'H', l => 'host', arg => 1,
      desc => 'The optional JMX host (default:localhost)' },
    { s => 'p', l => 'port', arg => 1,
      desc => 'The optional JMX port (default:9999)' },
    { s => 'l', l => 'login', arg => 1,
      desc => 'The optional JMX login (if JMX has authentication enabled)' },
    { s => 's', l => 'password', arg => 1, desc =>
      'The optional JMX password (if JMX has authentication enabled)' },
    { l => 'responsetimeout', arg => 1, desc => $TO },
);

sub _rmi_opts {
    my $v8 = flavour() eq 'v8';
    return (
        { s => 'h', l => 'help',
          desc => $v8 ? 'Prints this help text' : 'Prints a help text' },
        { s => 's', l => 'server', arg => 1, argname => $v8 ? 'rmiHost'
          : undef, desc => 'The optional RMI server (default: localhost)' },
        { s => 'p', l => 'port', arg => 1, argname => $v8 ? 'rmiPort'
          : undef, desc => 'The optional RMI port (default:1099)' },
        { l => 'responsetimeout', arg => 1, argname => $v8 ? 'timeout'
          : undef, desc => $TO },
        { s => 'A', l => 'adminuser', arg => 1, argname => $v8 ? 'adminUser'
          : undef, desc => 'Admin username' },
        { s => 'P', l => 'adminpass', arg => 1,
          argname => $v8 ? 'adminPassword' : undef,
          desc => 'Admin password' },
    );
}

my ($NAME_H, $OPTS, $FOOTER);

sub _help { out(cc_help($NAME_H, $OPTS, $FOOTER)) }

sub _fail {             # stderr line, help, exit 1
    my ($msg, $help) = @_;
    err("$msg\n");
    _help() if $help;
    finish(1);
}

sub _schema_of_cid {
    my ($cid) = @_;
    my $r = sql(conf()->{configdb}, "SELECT db_schema FROM"
        . " context_server2db_pool WHERE cid = " . int($cid) . " LIMIT 1");
    return @$r ? $r->[0][0] : undef;
}

# ------------------------------------------------------------ JMX, 7.10.0

sub _jmx_parse {
    my ($args) = @_;
    my ($cmd, $e) = cc_parse($args, $OPTS);
    _fail("Unable to parse command line: $e->{msg}", 1) if $e;
    if ($cmd->{h}) { _help(); finish(0) }
    if (defined $cmd->{p}) {
        my $v = $cmd->{p};
        _fail("Port parameter is not a number: $v", 1)
            unless $v =~ /^\s*[-+]?\d+\s*$/;
        _fail("Port parameter is out of range: $v. Valid range is from 1"
              . " to 65535.", 1) if $v < 1 || $v > 65535;
    }
    my $c = conf();
    if (defined $c->{jmx_user} && (($cmd->{l} // '') ne $c->{jmx_user}
                                   || ($cmd->{s} // '') ne $c->{jmx_pass})) {
        _fail('Problem in runtime: Authentication failed! Invalid username'
              . ' or password', 1);
    }
    return $cmd;
}

sub _jmx_runupdate {
    my ($args) = @_;
    ($NAME_H, $FOOTER) = ('runUpdate', undef);
    $OPTS = [ { s => 'h', l => 'help', desc => 'Prints a help text' },
              { s => 'c', l => 'context', arg => 1, desc => $CTX },
              { s => 'n', l => 'name', arg => 1, desc => $NAME }, @JMX ];
    my $cmd = _jmx_parse($args);
    my $schema;
    if (defined $cmd->{c}) {
        _fail("Context parameter is not a number: $cmd->{c}", 1)
            unless $cmd->{c} =~ /^\s*[-+]?\d+\s*$/;
        $schema = _schema_of_cid($cmd->{c});
        if (!defined $schema) {    # UpdateProcess(cid).run(): logged only
            node_log('ERROR', "Cannot find context $cmd->{c}");
            finish(0);
        }
    } elsif (defined $cmd->{n}) {
        $schema = $cmd->{n};
    } else {
        _fail('Missing context/schema identifier.', 1);
    }
    my $a = run_detached($schema);
    _fail('Unable to communicate with the server: Error unmarshaling return'
          . " header; nested exception is: \n\tjava.io.EOFException")
        unless $a;
    _fail("Unexpected error: $a->{error}") if $a->{error};
    if (@{ $a->{failures} }) {
        out("The following update task(s) failed: \n" . join("\n",
            map { " $_->[0] (schema=$_->[1])" } @{ $a->{failures} }) . "\n");
    }
    finish(0);
}

sub _jmx_force {
    my ($args) = @_;
    ($NAME_H, $FOOTER) = ('forceupdatetask', undef);
    $OPTS = [ { s => 'h', l => 'help', desc => 'Prints a help text' },
              { s => 't', l => 'task', arg => 1,
                desc => "The update task's class name" },
              { s => 'c', l => 'context', arg => 1, desc => $FORCE_C },
              { s => 'n', l => 'name', arg => 1, desc => $FORCE_N }, @JMX ];
    my $cmd = _jmx_parse($args);
    _force($cmd, 'Unexpected error: ');
}

sub _jmx_namespaces {
    my ($args) = @_;
    ($NAME_H, $FOOTER) = ('listnamespaceawareupdatetasks', $NS_FOOTER);
    $OPTS = [ { s => 'h', l => 'help', desc => 'Prints the help' }, @JMX ];
    _jmx_parse($args);
    out(_namespaces(0));
    finish(0);
}

# ------------------------------------------------------ RMI, 7.10.1 and 8.x

sub _rmi_parse {
    my ($args, %o) = @_;
    my $v8 = flavour() eq 'v8';
    if ($v8 && grep { $_ eq '-h' || $_ eq '--help' } @$args) {
        _help();
        finish(0);
    }
    my ($cmd, $e) = cc_parse($args, $OPTS, groups => $o{groups},
                             parser => $v8 ? 'default' : 'posix');
    if ($e) {
        _fail($v8 && $e->{kind} eq 'missing_opts' ? $e->{msg}
              : "Unable to parse command line: $e->{msg}", 1);
    }
    if ($cmd->{h}) { _help(); finish(0) }
    if (defined $cmd->{p}) {
        my $v = $cmd->{p};
        _fail("Port parameter is not a number: $v", 1)
            unless $v =~ /^\s*[-+]?\d+\s*$/;
        _fail("Port parameter is out of range: $v. Valid range is from 1"
              . " to 65535.", 1) if $v < 1 || $v > 65535;
        my $addr = ($cmd->{s} // 'localhost') . ':' . ($v + 0);
        _fail('Unable to connect to server')
            unless $addr eq 'localhost:1099'
                   || $addr eq (conf()->{rmi} // '');
    }
    if (defined $cmd->{responsetimeout}) {
        my $v = $cmd->{responsetimeout};
        _fail("Integer parameter is not a number: $v", 1)
            unless $v =~ /^\s*[-+]?\d+\s*$/;
    }
    return $cmd;
}

# AbstractRmiCLI: the credentials, after the tool's own checks
sub _rmi_auth {
    my ($cmd) = @_;
    my $c = conf();
    return if exists $c->{master_auth} && !$c->{master_auth};
    for my $k (qw(A P)) {
        next if defined $cmd->{$k} && $cmd->{$k} =~ /\S/;
        out("You must provide administrative credentials to proceed.\n");
        _help();
        finish(255);
    }
    _fail('Authentication failed')
        unless $cmd->{A} eq $c->{user} && $cmd->{P} eq $c->{pass};
}

sub _rmi_runupdate {
    my ($args) = @_;
    ($NAME_H, $FOOTER) = ('runUpdate', "Runs the schema's update.");
    $OPTS = [ _rmi_opts(),
              { s => 'c', l => 'context', arg => 1, desc => $CTX },
              { s => 'n', l => 'name', arg => 1, desc => $NAME } ];
    my $cmd = _rmi_parse($args);
    my $schema;
    if (defined $cmd->{c}) {
        _fail("Context parameter is not a number: $cmd->{c}", 1)
            unless $cmd->{c} =~ /^\s*[-+]?\d+\s*$/;
    } elsif (!defined $cmd->{n}) {
        _fail('Missing context/schema identifier.', 1);
    }
    _rmi_auth($cmd);
    if (defined $cmd->{c}) {
        $schema = _schema_of_cid($cmd->{c});
        if (!defined $schema) {
            node_log('ERROR', "Cannot find context $cmd->{c}");
            finish(0);
        }
    } else {
        $schema = $cmd->{n};
    }
    my $a = run_detached($schema);
    _fail('An error occurred.') unless $a;
    _fail($a->{error}) if $a->{error};
    my $f = $a->{failures};
    finish(0) unless @$f;
    out("The following update task(s) failed:\n");
    if ((conf()->{rmi_failure_keys} // '') eq 'name') {
        # early 7.10.1: the map's keys are name/class/schema -> NPE
        _fail('An error occurred.');
    }
    out(table_writer([ [qw(taskName className schema)],
        map { [ $_->[0], 'com.openexchange.groupware.update.TaskInfo',
                $_->[1] ] } @$f ]));
    finish(0);
}

# forceupdatetask, both generations; $prefix of the error line
sub _force {
    my ($cmd, $prefix) = @_;
    _fail("Missing update task's class name.", 1) unless defined $cmd->{t};
    my $schema;
    if (defined $cmd->{c}) {
        _fail("Context identifier parameter is not a number: $cmd->{c}", 1)
            unless $cmd->{c} =~ /^\s*[-+]?\d+\s*$/;
    }
    _rmi_auth($cmd) if flavour() ne 'jmx';
    my @on;
    if (defined $cmd->{c}) {
        @on = (_schema_of_cid($cmd->{c}) // _fail($prefix . "Cannot find"
                                                  . " context $cmd->{c}"));
    } elsif (defined $cmd->{n}) {
        @on = ($cmd->{n});
    } else {
        @on = map { $_->[0] } @{ sql(conf()->{configdb}, "SELECT DISTINCT"
            . " db_schema FROM context_server2db_pool ORDER BY 1") };
    }
    for my $s (@on) {
        eval { force_task($s, $cmd->{t}); 1 } or do {
            my $e = $@;
            chomp $e;
            node_log('ERROR', $e);
            $e =~ s/^[A-Z]{3}-\d{4} //;     # the plain log message
            _fail($prefix . $e);
        };
    }
    finish(0);
}

sub _rmi_force {
    my ($args) = @_;
    my $v8 = flavour() eq 'v8';
    ($NAME_H, $FOOTER) = $v8
        ? ('forceupdatetask -t <taskName> [-c <contextId> | -n <schemaName>]'
           . ' -A <masterAdmin> -P <masterAdminPassword> [-p <RMI-Port>]'
           . ' [-s <RMI-Server>] [--responsetimeout <responseTimeout>] |'
           . ' [-h]', 'Force (re-)run of update task denoted by given class'
           . ' name on a specific schema or on all schemata or on a specific'
           . ' context.')
        : ('forceupdatetask', '');
    $OPTS = [ _rmi_opts(),
              { s => 't', l => 'task', arg => 1, argname => $v8 ? 'taskName'
                : undef, desc => "The update task's class name" },
              { s => 'c', l => 'context', arg => 1, argname => $v8
                ? 'contextId' : undef, desc => $FORCE_C },
              { s => 'n', l => 'name', arg => 1, argname => $v8
                ? 'schemaName' : undef, desc => $FORCE_N } ];
    _force(_rmi_parse($args), '');
}

# +- namespace / |--- task, in the order tasks.json names them
sub _namespaces {
    my ($only) = @_;
    my (%ns, @order);
    for my $t (@{ tasks_of() }) {
        next unless $t->{namespace};
        push @order, $t->{namespace} unless $ns{ $t->{namespace} };
        push @{ $ns{ $t->{namespace} } }, $t->{name};
    }
    return join '', map { "+- $_\n" . ($only ? '' : join '',
                          map { "|--- $_\n" } @{ $ns{$_} }) } @order;
}

sub _rmi_namespaces {
    my ($args) = @_;
    ($NAME_H, $FOOTER) = ('listUpdateTaskNamespaces', $NS_FOOTER);
    $OPTS = [ _rmi_opts(), { s => 'n', l => 'namespaces-only', desc =>
        'Prints only the available namespaces without their update tasks' } ];
    my $cmd = _rmi_parse($args);
    _rmi_auth($cmd);
    out(_namespaces($cmd->{n}));
    finish(0);
}

# listUpdateTasks (7.10.2+): see FORMATS.md 2.4
sub _list_tasks {
    my ($args) = @_;
    my $v8 = flavour() eq 'v8';
    my $x = "Lists only the update tasks excluded both via"
          . " excludedupdate.properties' file and namespace";
    my $xn = 'Lists only the update tasks excluded via namespace';
    my @g;
    if ($v8) {
        $NAME_H = 'listUpdateTasks [[-a | -g | -e | -x | -xf | -xn] -n'
            . ' <schemaName> -A <masterAdminUser> -P <masterAdminPassword>'
            . ' [-p <port> -s <server> --responsetime <responseTime>]] | -h';
        $FOOTER = "Lists executed, pending and excluded update tasks of a"
            . " schema specified by the '-n' switch (mandatory). The switches"
            . " '-a', '-e', '-g', '-x', '-xf' and '-xn' are mutually"
            . " exclusive AND mandatory.";
        @g = (['a', 'all', 'Lists all pending and excluded update tasks'
               . " (both via excludeupdatetasks.properties' file and"
               . ' namespace)'],
              ['g', 'pending', 'Lists only the pending update tasks, i.e.'
               . ' those that were never executed but are due for execution'
               . ' or were executed at least once and failed.'],
              ['x', 'excluded', $x],
              ['xf', 'excluded-via-file', 'Lists only the update tasks'
               . " excluded via 'excludeupdatetasks.properties' file"],
              ['xn', 'excluded-via-namespace', $xn],
              ['e', 'executed', 'Lists all executed (ran at least once)'
               . ' update tasks of a schema']);
    } else {
        $NAME_H = 'listUpdateTasks [[-e | -r | -x | -xf | -xn] -A'
            . ' <adminUser> -P <adminPassword> [-p <port> -s <server>'
            . ' --responsetime <responseTime>]] | -h';
        $FOOTER = "Lists executed, pending and excluded update tasks of a"
            . " schema. The switches '-a', '-e', '-r', '-x', '-xf' and '-xn'"
            . " are mutually exclusive AND mandatory.\n\n An overall"
            . " database status of all schemata can be retrieved via the"
            . " 'checkdatabase' command line tool.";
        @g = (['a', 'all', 'Lists all pending and excluded update tasks'
               . " (both via excludedupdate.properties' file and namespace)"],
              ['e', 'pending', 'Lists only the pending update tasks'],
              ['x', 'excluded', $x],
              ['xf', 'excluded-via-file', 'Lists only the update tasks'
               . " excluded via 'excludedupdate.properties' file"],
              ['xn', 'excluded-via-namespace', $xn],
              ['r', 'executed', 'Lists executed update tasks of a schema']);
    }
    $OPTS = [ _rmi_opts(),
              { s => 'n', l => 'name', arg => 1, req => $v8,
                argname => $v8 ? 'schemaName' : undef,
                desc => 'A valid schema name.' },
              map { { s => $_->[0], l => $_->[1], desc => $_->[2],
                      group => 'mode' } } @g ];
    my $cmd = _rmi_parse($args, groups => { mode => 1 });
    _fail('Schema name must be defined.', 1) unless defined $cmd->{n};
    my $s = $cmd->{n};
    my $exec = $v8 ? 'e' : 'r';
    my $pend = $v8 ? 'g' : 'e';
    my ($p, $xf, $xns) = $cmd->{a} ? (1, 1, 1)
        : ($cmd->{$pend}, $cmd->{xf} || $cmd->{x}, $cmd->{xn} || $cmd->{x});
    _rmi_auth($cmd);
    _fail("Unknown schema name: $s") unless schema_info($s);
    my $rows = task_rows($s);
    my @out;
    if ($cmd->{$exec}) {
        my $tz = conf()->{timezone};
        local $ENV{TZ} = $tz if defined $tz;
        POSIX::tzset();
        @out = map { [ $_->[0], $_->[1] ? 'true' : 'false', strftime(
            '%Y-%m-%d %H:%M:%S %Z', localtime(int($_->[2] / 1000))) ] }
            @$rows;
    } else {
        my %ok = map { $_->[1] ? ($_->[0] => 1) : () } @$rows;
        my %ran = map { $_->[0] => 1 } @$rows;
        if ($p) {
            push @out, map { [ $_->{name}, 'pending', $v8 ? ($ran{ $_->{name} }
                ? 'failed' : 'never executed') : () ] }
                grep { !$ok{ $_->{name} } } @{ tasks_of() };
        }
        if ($xf) {
            push @out, map { $v8 ? [ $_, 'excluded', "via file"
                . " 'excludedupdatetask.properties'" ] : [ $_, "excluded via"
                . " file 'excludedupdatetask.properties'" ] } excluded_file();
        }
        if ($xns) {
            push @out, map { $v8 ? [ $_->{name}, 'excluded', "via namespace"
                . " '$_->{namespace}'" ] : [ $_->{name}, "excluded via"
                . " namespace '$_->{namespace}'" ] }
                grep { $_->{namespace} } @{ tasks_of() };
        }
    }
    @out = sort { $a->[0] cmp $b->[0] } @out;
    if (!@out && $v8) { out("No entries found.\n"); finish(0) }
    my @head = $cmd->{$exec} ? qw(taskName successful lastModified)
             : $v8 ? qw(taskName state reason) : qw(taskName state);
    out(table_writer([ \@head, @out ]));
    finish(0);
}

my %JMX = (runupdate => \&_jmx_runupdate, forceupdatetask => \&_jmx_force,
           listUpdateTaskNamespaces => \&_jmx_namespaces);
my %RMI = (runupdate => \&_rmi_runupdate, forceupdatetask => \&_rmi_force,
           listUpdateTaskNamespaces => \&_rmi_namespaces,
           listUpdateTasks => \&_list_tasks);

sub is_tool { exists $RMI{ $_[0] } }

sub run {
    my ($tool, @args) = @_;
    my $fn = flavour() eq 'jmx' ? $JMX{$tool} : $RMI{$tool};
    if (!$fn || ($tool eq 'listUpdateTasks' && !version_at_least('7.10.2'))) {
        # the tool does not exist in this version
        err("$tool: command not found\n");
        finish(127);
    }
    $fn->(\@args);
}

1;
