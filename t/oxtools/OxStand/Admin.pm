# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
package OxStand::Admin;

# The admin console tools (com.openexchange.admin.console): registerserver,
# listdatabaseschema, disableschema, enableschema, changeserver,
# checkdatabase, unblockdatabase.  Options, answers and exit codes as in
# FORMATS.md sections 0.2 and 1.

use strict;
use warnings;
use Time::HiRes qw(sleep);
use Fcntl qw(:flock);
use OxStand::Base;
use OxStand::Cli;
use OxStand::Node qw(pending_tasks lock_row);

# AdminParser's own options, then BasicCommandlineOptions' -A/-P
my @BASE = (
    { s => 'h', l => 'help', desc => 'Prints a help text' },
    { l => 'environment', desc => 'Show info about commandline environment' },
    { l => 'check', hidden => 1 },
    { l => 'nonl', desc => 'Remove all newlines (\n) from output' },
    { l => 'responsetimeout', arg => 1, argname => 'responsetimeout',
      desc => 'response timeout in seconds for reading response from the'
            . ' backend (default 0s; infinite)' },
);

sub _cred {
    my ($master) = @_;
    return (
        { s => 'A', l => 'adminuser', arg => 1, need => 'possibly',
          desc => $master ? 'master Admin user name' : 'Admin username' },
        { s => 'P', l => 'adminpass', arg => 1, need => 'possibly',
          desc => $master ? 'master Admin password' : 'Admin password' });
}

my $RMI_DESC = 'A list of RMI hosts e.g. 192.168.1.25:1099,192.168.1.26.'
    . ' If no port is given the default RMI port 1099 is taken.. Default:'
    . ' rmi://localhost:1099/';

my %TOOLS = (
    registerserver => {
        obj => 'server', run => \&registerserver,
        opts => [ _cred(0), { s => 'n', l => 'servername', arg => 1,
                              need => 'needed',
                              desc => 'The name of the server' } ] },
    listdatabaseschema => {
        obj => 'database schemas', first => 'could not be listed: ',
        run => \&listdatabaseschema,
        opts => [ _cred(0),
                  { s => 's', l => 'searchpattern', arg => 1,
                    desc => 'The search pattern which is used for listing' },
                  { l => 'csv', desc => 'Format output to csv' } ] },
    disableschema => {
        obj => 'disableschema', run => sub { schema_state(@_, 0) },
        opts => [ _cred(1),
                  { s => 'm', l => 'schema', arg => 1, need => 'needed',
                    argname => 'schema_name',
                    desc => 'The name of the schema to disable' },
                  { s => 'r', l => 'rmi-hosts', arg => 1,
                    argname => 'rmi_hosts', desc => $RMI_DESC } ] },
    enableschema => {
        obj => 'enableschema', run => sub { schema_state(@_, 1) },
        opts => [ _cred(1),
                  { s => 'm', l => 'target-schema', arg => 1,
                    need => 'needed', argname => 'schema_name',
                    desc => 'The name of the schema to enable.' },
                  { s => 'r', l => 'rmi-hosts', arg => 1,
                    argname => 'rmi_hosts', desc => $RMI_DESC } ] },
    changeserver => {
        obj => 'server', first => 'could not be changed: ',
        run => \&changeserver,
        opts => [ { s => 'm', l => 'schema-name', arg => 1, need => 'needed',
                    argname => 'schema_name', desc => 'The name of the'
                    . ' schema for which to change the server id' },
                  { s => 's', l => 'server-id', arg => 1, need => 'needed',
                    argname => 'server_id',
                    desc => 'The identifier of the new server' },
                  _cred(0) ] },
    checkdatabase => {
        obj => 'databases', run => \&checkdatabase,
        opts => [ _cred(0), { l => 'csv', desc => 'Format output to csv' } ] },
    unblockdatabase => {
        obj => 'database', run => \&unblockdatabase,
        opts => [ _cred(0),
                  { s => 'i', l => 'id', arg => 1, need => 'eitheror',
                    desc => 'The id of the database.' },
                  { s => 'n', l => 'name', arg => 1, need => 'eitheror',
                    desc => 'Name of the database' },
                  { l => 'schema', arg => 1,
                    desc => 'The optional schema name of the database.' } ] },
);

sub is_tool { exists $TOOLS{ $_[0] } }

my ($T, $OPTS);

sub _first { err("$T->{obj} $T->{first}\n") if $T->{first} }

sub _error {               # ObjectNamingAbstraction.printError + exit
    my ($msg, $code, $usage, $plain) = @_;
    _first() unless $plain;
    err("Error: $msg\n");
    out(admin_usage(tool(), $OPTS)) if $usage;
    finish($code);
}

sub server_error {         # printServerException + exit
    my ($msg, $code) = @_;
    _first();
    err("Server response:\n $msg\n\tat com.openexchange.stand.in(oxtool)\n\n");
    finish($code);
}

sub run {
    my ($tool, @args) = @_;
    $T = $TOOLS{$tool};
    $OPTS = [ @BASE, @{ $T->{opts} } ];
    my ($cmd, $e) = admin_parse(\@args, $OPTS);
    if ($e && $e->{help}) { out(admin_usage($tool, $OPTS)); finish(0) }
    if ($e && $e->{environment}) {
        out("\nThe following environment variables and their current value"
            . " are known\nand can be modified to change behaviour:\n\n");
        for my $k (qw(RMI_HOSTNAME COMMANDLINE_TIMEZONE COMMANDLINE_DATEFORMAT
                      ADMIN_PASSWORD NEW_USER_PASSWORD)) {
            my $v = $ENV{$k};
            $v = '<NOT SET>' unless defined $v && $v =~ /\S/;
            $v = '<SET>' if $k =~ /PASSWORD/ && $v ne '<NOT SET>';
            out("\t$k=$v\n");
        }
        finish(0);
    }
    _error($e->{msg}, $e->{code}, $e->{usage}) if $e;
    $T->{run}->($cmd);
}

# The server's authentication (BasicAuthenticator) at the RMI call; the
# password from -P, else ADMIN_PASSWORD (credentialsparsing) unless $no_env
# (UnblockDatabase builds its Credentials from -A/-P only)
sub auth {
    my ($cmd, $no_env) = @_;
    my $c = conf();
    return if exists $c->{master_auth} && !$c->{master_auth};
    my $user = $cmd->{adminuser};
    my $pass = $cmd->{adminpass} // ($no_env ? undef : $ENV{ADMIN_PASSWORD});
    $pass = undef if defined $pass && $pass !~ /\S/
                     && !defined $cmd->{adminpass};
    return if defined $user && defined $pass && $user eq $c->{user}
              && $pass eq $c->{pass};
    if (!defined $cmd->{adminuser} && !defined $cmd->{adminpass}) {
        _error('Options "adminuser, adminpass" missing', 104, 1);
    }
    server_error('Authentication failed', 101);
}

# ------------------------------------------------------------ the tools

sub registerserver {
    my ($cmd) = @_;
    auth($cmd);
    my $n = $cmd->{servername};
    my $db = conf()->{configdb};
    if (@{ sql($db, "SELECT 1 FROM server WHERE name = " . sqlq($n)) }) {
        server_error("Server $n already exists", 103);
    }
    my $id = sql($db, "UPDATE configdb_sequence SET id = LAST_INSERT_ID(id"
        . " + 1); SELECT LAST_INSERT_ID();")->[0][0];
    sql($db, "INSERT INTO server (server_id, name, uuid) VALUES ($id, "
        . sqlq($n) . ", UNHEX(REPLACE(UUID(), '-', '')))");
    out("server $id registered\n");
    finish(0);
}

sub _host { my ($url) = @_; return $url =~ m{^jdbc:[^:]+://\[?([^/:\]]+)}
                                   ? $1 : undef }

sub listdatabaseschema {
    my ($cmd) = @_;
    auth($cmd);
    my $pat = $cmd->{searchpattern} // '*';
    $pat =~ s/([%_\\])/\\$1/g;
    $pat =~ tr/*/%/;
    my $rows = sql(conf()->{configdb}, "SELECT d.db_pool_id, d.name,"
        . " p.db_schema, d.url, COUNT(*) FROM context_server2db_pool p"
        . " JOIN db_pool d ON d.db_pool_id = p.write_db_pool_id WHERE"
        . " p.db_schema LIKE " . sqlq($pat) . " GROUP BY d.db_pool_id,"
        . " d.name, p.db_schema, d.url ORDER BY d.db_pool_id, p.db_schema");
    if ($cmd->{csv}) {
        out(csv_output([qw(id display_name schema_name url currentunits)],
                       $rows));
        finish(0);
    }
    if (!@$rows) { out("No such database schemas found\n"); finish(0) }
    out(do_output([qw(r l l l r)], [qw(id name schemaname hostname curctx)],
        [ map { [ @$_[0 .. 2], _host($_->[3]), $_->[4] ] } @$rows ]));
    finish(0);
}

# the clusters an -r list names (AbstractSchemaRMIToolkit), looked up
# before anything changes
sub _rmi_targets {
    my ($list) = @_;
    my $site = conf()->{site} // {};
    my @dirs;
    # Pattern.split: an empty list is one empty host
    for my $h ($list eq '' ? ('') : split /\s*,\s*/, $list, -1) {
        server_error('Could not parse the RMI host address', 103)
            if $h !~ /\S/;
        my $a = $h;
        $a =~ s{^rmi://}{};
        $a =~ s{/+$}{};
        $a .= ':1099' unless $a =~ /:/;
        my ($host) = split /:/, $a;
        my $d = $site->{$a};
        if (!$d || !-d $d) {
            _error("Connection refused to host: $host; nested exception"
                   . " is: \n\tjava.net.ConnectException: Connection refused"
                   . " (Connection refused)", 105);
        }
        push @dirs, $d;
    }
    return \@dirs;
}

sub schema_cids {
    my ($schema) = @_;
    return [ map { $_->[0] } @{ sql(conf()->{configdb},
        "SELECT cid FROM context_server2db_pool WHERE db_schema = "
        . sqlq($schema) . " ORDER BY cid") } ];
}

# invalidateContexts(schema, sessions) on the nodes of one cluster
sub invalidate {
    my ($cdir, $schema, $cids, $sessions) = @_;
    my $f = "$cdir/cache.json";
    my $fh;
    open($fh, '+<', $f) or open($fh, '+>', $f) or die "$f: $!";
    flock $fh, LOCK_EX;
    local $/;
    my $text = <$fh>;
    my $c = ($text // '') =~ /\S/ ? J()->decode($text) : {};
    delete $c->{$_} for @$cids;
    push @{ $c->{sessions_closed} }, @$cids if $sessions;
    push @{ $c->{invalidations} }, { schema => $schema,
        sessions => $sessions ? 1 : 0, by => conf()->{cluster} };
    seek $fh, 0, 0;
    truncate $fh, 0;
    print $fh J()->encode($c);
    close $fh;
}

sub schema_state {
    my ($cmd, $enable) = @_;
    my $s = $enable ? $cmd->{'target-schema'} : $cmd->{schema};
    my $targets = defined $cmd->{'rmi-hosts'}
                ? _rmi_targets($cmd->{'rmi-hosts'}) : [ dir() ];
    auth($cmd);
    my $where = "cid IN (SELECT cid FROM context_server2db_pool WHERE"
              . " db_schema = " . sqlq($s) . ")";
    if ($enable) {
        sql(conf()->{configdb}, "UPDATE context SET enabled = 1, reason_id"
            . " = NULL WHERE $where AND enabled = 0 AND reason_id = "
            . OxStand::Base::REASON);
    } else {
        sql(conf()->{configdb}, "UPDATE context SET enabled = 0, reason_id"
            . " = " . OxStand::Base::REASON . " WHERE $where AND enabled"
            . " = 1");
    }
    my $cids = schema_cids($s);
    invalidate($_, $s, $cids, !$enable) for @$targets;
    finish(0);
}

sub changeserver {
    my ($cmd) = @_;
    my $s = $cmd->{'schema-name'};
    # BasicCommandlineOptions.printError: no "could not be changed" line
    _error("Please specify the schema name\n", 1, 0, 1) if $s !~ /\S/;
    my $sid = $cmd->{'server-id'};
    _error("Please specify the server identifier\n", 1, 0, 1)
        if $sid !~ /\S/;
    _error("Invalid server id: $sid", 1, 0, 1)
        if $sid !~ /^[-+]?\d+$/ || abs($sid) > 2147483647;
    $sid += 0;
    auth($cmd);
    my $db = conf()->{configdb};
    my $rows = sql($db, "SELECT c.cid, c.enabled FROM context c JOIN"
        . " context_server2db_pool p ON p.cid = c.cid WHERE p.db_schema = "
        . sqlq($s) . " ORDER BY c.cid");
    server_error("The schema '$s' contains no contexts.", 106) unless @$rows;
    my @on = map { $_->[0] } grep { $_->[1] } @$rows;
    server_error("The schema '$s' is not disabled. The following contexts"
                 . " are still enabled: [" . join(', ', @on) . "]", 106)
        if @on;
    server_error("No such server $sid", 106)
        unless @{ sql($db, "SELECT 1 FROM server WHERE server_id = $sid") };
    sql($db, "UPDATE context_server2db_pool SET server_id = $sid WHERE"
        . " db_schema = " . sqlq($s));
    out("Successfully changed to server '$sid' for schema '$s'.\n");
    finish(0);
}

# [pool id, pool name, url, schema] of every schema (of one pool)
sub _schemas {
    my ($where) = @_;
    return sql(conf()->{configdb}, "SELECT DISTINCT d.db_pool_id, d.name,"
        . " d.url, p.db_schema FROM context_server2db_pool p JOIN db_pool d"
        . " ON d.db_pool_id = p.write_db_pool_id"
        . ($where ? " WHERE $where" : '')
        . " ORDER BY d.db_pool_id, p.db_schema");
}

sub _stale_ms { conf()->{stale_ms} // 86_400_000 }

sub checkdatabase {
    my ($cmd) = @_;
    auth($cmd);
    my $v8 = flavour() eq 'v8';
    my $progress = config_bool('checkdatabase_progress', $v8);
    my (@need, @run, @stale);
    my $check = sub {
        for my $r (@{ _schemas() }) {
            my $lm = lock_row($r->[3]);
            if (defined $lm) {
                push @{ now() - $lm > _stale_ms() ? \@stale : \@run }, $r;
            } elsif (@{ pending_tasks($r->[3]) }) {
                push @need, $r;
            }
        }
    };
    if ($progress) {
        # CheckDatabase (8.x): a dot right away and every 500 ms
        my $msg = 'Checking database schemas';
        out($msg);
        my $c = length $msg;
        $check->();
        # the check's simulated length counts from its end: however long
        # the real work took, the dots go on for checkdatabase_ms
        my $until = Time::HiRes::time()
                  + (conf()->{checkdatabase_ms} // 0) / 1000;
        while (1) {
            out('.');
            if ($c++ >= 76) { $c = 0; out("\n") }
            last if Time::HiRes::time() >= $until;
            sleep(0.5);
        }
        out("\n\n");
    } else {
        $check->();
    }
    my @rows = ((map { [ @$_, 'Needs update' ] } @need),
                (map { [ @$_, 'Blocking updates running' ] } @run),
                (map { [ @$_, 'Blocking updates running for too long' ] }
                 @stale));
    if ($cmd->{csv}) {
        out(csv_output([qw(id display_name url scheme status)], \@rows));
        finish(0);
    }
    if (!@rows && $progress) {
        out("Neither pending, blocking nor stale schemas found\n");
        finish(0);
    }
    out(do_output([qw(r l l l l)], [qw(id name hostname scheme status)],
        [ map { [ $_->[0], $_->[1], _host($_->[2]), @$_[3, 4] ] } @rows ]));
    finish(0);
}

sub unblockdatabase {
    my ($cmd) = @_;
    if (defined $cmd->{id} && $cmd->{id} !~ /^[-+]?\d+$/) {
        err("Invalid input detected: Ids must be numbers!\n");
        finish(1);
    }
    my $id = defined $cmd->{id} ? $cmd->{id} + 0 : undef;
    _error('Either databasename or databaseid must be given', 104, 1)
        unless defined $id || defined $cmd->{name};
    my $text = defined $id ? $id : $cmd->{name};
    auth($cmd, 1);
    my $where = defined $id ? "d.db_pool_id = $id"
                            : "d.name = " . sqlq($cmd->{name});
    $where .= " AND p.db_schema = " . sqlq($cmd->{schema})
        if defined $cmd->{schema};
    my @done;
    for my $r (@{ _schemas($where) }) {
        my $lm = lock_row($r->[3]);
        next unless defined $lm && now() - $lm > _stale_ms();
        sql($r->[3], "DELETE FROM updateTask WHERE cid = 0 AND taskName ="
            . " 'LOCKED' AND lastModified = $lm");
        push @done, $r;
    }
    if (defined $cmd->{schema}) {
        out("schema $cmd->{schema} "
            . (@done ? "unblocked\n" : "is already unblocked\n"));
        finish(0);
    }
    if (!@done) { out("database $text is already unblocked\n"); finish(0) }
    out("unblocked the following schemas from database $text:\n");
    out("\n") if config_bool('unblock_blank_line', flavour() eq 'v8');
    out(do_output([qw(r l l l)], [qw(id name hostname scheme)],
        [ map { [ $_->[0], $_->[1], _host($_->[2]), $_->[3] ] } @done ]));
    finish(0);
}

1;
