#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The OX tool stand-in (t/oxtools/oxtool) against OX's own formats
# (t/oxtools/FORMATS.md, the examples of OX's documentation in
# t/oxtools/fixtures/): both generations of the update-task tools (7.10.0
# JMX, 7.10.1+ RMI) and the 8.x rules, every option error, exit code and
# credential rule, disable/enable with -r on both clusters, the errors the
# node swallows, the lock rules per version, an update that goes on inside
# the node when its client is killed.  Runs the tools directly on a real
# configdb and real schemas of the suite's MariaDB; no nginx.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $site = OxAdmin::site('adm58', schemas => 3, contexts => 2,
                         prefix => 'ox58');
my @S = @{ $site->{schemas} };
my $port = $ENV{OXM_MYSQL_PORT};
my $FIX = OxTest::root() . '/t/oxtools/fixtures';
my $TASKS = [ { name => 'com.openexchange.groupware.update.tasks.FirstTask' },
              { name => 'com.openexchange.groupware.update.tasks.'
                        . 'ResourceTablesUtf8Mb4UpdateTask',
                namespace => 'groupware.utf8mb4' },
              { name => 'com.openexchange.oauth.FailingTask',
                fail_if_table => 'make_fail' } ];
my $ox = OxAdmin::oxtools($site, tasks => $TASKS);
my $U = $OxAdmin::USER;
my $P = $OxAdmin::PASS;

# runs one tool of a cluster: {out, err, rc}
sub tool {
    my ($o, $cluster, $name, $args, %opt) = @_;
    my $dir = OxTest::tmpdir();
    my ($fo, $fe) = ("$dir/t58.out", "$dir/t58.err");
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0) if $opt{pgrp};
        delete $ENV{ADMIN_PASSWORD};
        $ENV{$_} = $opt{env}{$_} for keys %{ $opt{env} // {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $fo or POSIX::_exit(126);
        open STDERR, '>', $fe or POSIX::_exit(126);
        { exec $o->dir($cluster) . "/$name", @$args }
        POSIX::_exit(127);
    }
    return $pid if $opt{background};
    waitpid $pid, 0;
    return { rc => $? >> 8, out => OxTest::_slurp($fo) // '',
             err => OxTest::_slurp($fe) // '' };
}

sub q_ { my ($s) = @_; $s =~ s/'/''/g; return "'$s'" }
sub ssql { my ($s, $q) = @_; return OxAdmin::schema_sql($s, $q) }
sub rows { my ($s) = @_; return OxAdmin::task_rows($s) }
sub lock_lm {
    my ($s) = @_;
    my $r = eval { ssql($s, "SELECT lastModified FROM updateTask WHERE"
                           . " taskName = 'LOCKED'") } // [];
    return @$r ? $r->[0][0] : undef;
}
sub now_ms { int(time * 1000) }

sub mk_table {
    my ($s) = @_;
    ssql($s, "CREATE TABLE IF NOT EXISTS updateTask (cid INT UNSIGNED NOT"
        . " NULL, taskName VARCHAR(1024) NOT NULL, successful BOOLEAN NOT"
        . " NULL, lastModified BIGINT NOT NULL, uuid BINARY(16) NOT NULL,"
        . " PRIMARY KEY (cid, uuid), INDEX full (cid, taskName(191)))");
}
sub set_lock {          # a LOCKED row touched $age ms ago (undef: none)
    my ($s, $age) = @_;
    mk_table($s);
    ssql($s, "DELETE FROM updateTask WHERE taskName = 'LOCKED'");
    ssql($s, "INSERT INTO updateTask VALUES (0, 'LOCKED', 1, "
        . (now_ms() - $age) . ", UNHEX('8d8b93e559794baca39daef8f87087a1'))")
        if defined $age;
}

# a fixture of t/oxtools/fixtures/code with {S0}.. {PORT} filled in
sub fixture {
    my ($name) = @_;
    my $t = OxTest::_slurp("$FIX/code/$name") // die "$name: $!";
    $t =~ s/\{S(\d)\}/$S[$1]/g;
    $t =~ s/\{PORT\}/$port/g;
    return $t;
}

# a documentation example's lines with the data columns replaced by X and
# runs of blanks collapsed: what must be the same "modulo the data values"
sub shape {
    my ($line, @data) = @_;
    for my $re (@data) { $line =~ s/$re/X/g }
    $line =~ s/[ \t]+/ /g;
    $line =~ s/^ | \z//g;
    return $line;
}

my $cred = [ '-A', $U, '-P', $P ];

# ====================================================== admin console tools

subtest 'registerserver' => sub {
    my $r = tool($ox, 'new', 'registerserver', [ @$cred, '-n', 'oxnew' ]);
    is($r->{rc}, 0, 'exit 0');
    like($r->{out}, qr/\Aserver (\d+) registered\n\z/, 'server N registered');
    $r = tool($ox, 'new', 'registerserver', [ @$cred, '-n', 'oxnew' ]);
    is($r->{rc}, 103, 'existing name: 103');
    like($r->{err}, qr/\AServer response:\n Server oxnew already exists\n/,
         'Server response');
    $r = tool($ox, 'new', 'registerserver', $cred);
    is($r->{rc}, 104, 'no -n: 104');
    is($r->{err}, qq{Error: Option(s) "servername" missing\n}, 'its text');
    like($r->{out}, qr/\AUsage: registerserver \n/, 'usage on stdout');
};


subtest 'listdatabaseschema: doOutput table, csv, nothing found' => sub {
    my $r = tool($ox, 'old', 'listdatabaseschema', $cred);
    is($r->{rc}, 0, 'exit 0');
    # id right-aligned, every column padded to its widest value (the last
    # one too), one space between columns
    my $w = 10;    # max(length 'schemaname', length of the names)
    my $exp = sprintf("%2s %-4s %-*s %-9s %6s\n", 'id', 'name', $w,
                      'schemaname', 'hostname', 'curctx');
    $exp .= sprintf("%2s %-4s %-*s %-9s %6s\n", 3, 'oxdb', $w, $_,
                    '127.0.0.1', 2) for @S;
    is($r->{out}, $exp, 'padded table');
    $r = tool($ox, 'old', 'listdatabaseschema', [ @$cred, '--csv' ]);
    is($r->{out}, "id,display_name,schema_name,url,currentunits\n"
       . join('', map { qq{"3","oxdb","$_","jdbc:mysql://127.0.0.1:$port/","2"\n} }
                  @S), '--csv');
    $r = tool($ox, 'old', 'listdatabaseschema', [ @$cred, '-s', 'nix*' ]);
    is($r->{out}, "No such database schemas found\n", 'nothing found');
    $r = tool($ox, 'old', 'listdatabaseschema', [ @$cred, '-s', "$S[1]*" ]);
    is(scalar(() = $r->{out} =~ /\n/g), 2, '-s pattern: header + 1 row');
};

subtest 'admin tools: credentials as OX reads them' => sub {
    my $r = tool($ox, 'old', 'listdatabaseschema', [ '-A', $U ],
                 env => { ADMIN_PASSWORD => $P });
    is($r->{rc}, 0, 'password from ADMIN_PASSWORD, user from -A');
    my $c = $ox->calls->[-1];
    is_deeply($c->{argv}, [ '-A', $U ], 'argv without the password');
    ok($c->{env_password}, 'env_password logged as true');
    ok(!grep({ /\Q$P\E/ } keys %$c), 'no new field holds the password');
    $r = tool($ox, 'old', 'listdatabaseschema', [ '-A', $U ],
              env => { ADMIN_PASSWORD => 'wrong' });
    is($r->{rc}, 101, 'wrong password: 101');
    is($r->{err}, "database schemas could not be listed: \n"
       . "Server response:\n Authentication failed\n"
       . "\tat com.openexchange.stand.in(oxtool)\n\n",
       'first part (class name matches "list") + Server response');
    $r = tool($ox, 'old', 'listdatabaseschema', [ '-A', $U, '-P', 'x' ],
              env => { ADMIN_PASSWORD => $P });
    is($r->{rc}, 101, '-P wins over ADMIN_PASSWORD');
    $r = tool($ox, 'old', 'checkdatabase', [],
              env => { ADMIN_PASSWORD => $P });
    is($r->{rc}, 104, 'no -A and no -P (env set): 104');
    is($r->{err}, qq{Error: Options "adminuser, adminpass" missing\n},
       'Options "adminuser, adminpass" missing');
    like($r->{out}, qr/\AUsage: checkdatabase \n/, 'usage on stdout');
    ok(!$ox->calls->[-1]{env_password} ? 0 : 1, 'env_password true');
    $r = tool($ox, 'old', 'checkdatabase', [ '-P', $P ]);
    is($r->{rc}, 101, 'only -P: 101 (not 104)');

    # any character in a password, through -P and through the environment
    my $hard = q{p!#$&*? '"\\ x};
    my $ox2 = OxAdmin::oxtools($site, pass => $hard);
    $r = tool($ox2, 'new', 'listdatabaseschema', [ '-A', $U ],
              env => { ADMIN_PASSWORD => $hard });
    is($r->{rc}, 0, 'hard password through ADMIN_PASSWORD');
    $r = tool($ox2, 'new', 'listdatabaseschema', [ '-A', $U, '-P', $hard ]);
    is($r->{rc}, 0, 'hard password through -P');
    $r = tool($ox2, 'new', 'runupdate', [ '-A', $U, '-P', $hard, '-n', 'x' ]);
    is($r->{err}, "Unknown schema name: x\n", 'and through runupdate -P');
    $r = tool($ox2, 'new', 'runupdate', [ '-A', $U, '-n', $S[0] ],
              env => { ADMIN_PASSWORD => $hard });
    is($r->{rc}, 255, 'runupdate ignores ADMIN_PASSWORD: 255');
};

subtest 'admin tools: option errors' => sub {
    my $r = tool($ox, 'old', 'disableschema', $cred);
    is($r->{rc}, 104, 'missing -m: 104');
    is($r->{err}, qq{Error: Option(s) "schema" missing\n}, 'its text');
    like($r->{out}, qr/\AUsage: disableschema \n -h,--help {38}   Prints a help text {10}\n/,
         'usage, AdminParser layout');
    my $line = sub { sprintf(" %s,%-45s%-2s%-28s\n", @_) };
    like($r->{out}, qr/\n\Q${\ $line->('-m', '--schema <schema_name>', '*',
        'The name of the schema to disable') }\E/, 'needed option marked *');
    like($r->{out}, qr/\n\Q${\ $line->('-A', '--adminuser <adminuser>', '?',
        'master Admin user name') }\E/, 'possibly option marked ?');
    $r = tool($ox, 'old', 'disableschema', [ @$cred, '-m', $S[0], '-x' ]);
    is($r->{rc}, 111, 'unknown option: 111');
    is($r->{err}, "Error: Unrecognized options on the command line: "
       . "Unknown option `` -x'\n", "Unknown option `` -x' (OX's quoting)");
    $r = tool($ox, 'old', 'disableschema', [ @$cred, '--bogus', '-m', $S[0] ]);
    is($r->{err}, "Error: Unrecognized options on the command line: "
       . "Unknown option `` --bogus'\n", 'unknown long option');
    $r = tool($ox, 'old', 'disableschema', [ @$cred, '-m' ]);
    is($r->{rc}, 111, 'missing value: 111');
    is($r->{err}, "Error: Unrecognized options on the command line: "
       . "Missing argument for option ' m'\n", 'its text');
    $r = tool($ox, 'old', 'disableschema', [ @$cred, '-m', $S[0], 'stray' ]);
    is($r->{err}, "Error: Unrecognized options on the command line: "
       . "Unknown option ``stray'\n", 'a stray argument');
    $r = tool($ox, 'old', 'changeserver', $cred);
    is($r->{rc}, 104, 'changeserver without -m/-s: 104');
    is($r->{err}, "server could not be changed: \n"
       . qq{Error: Option(s) "schema-name,server-id" missing\n},
       'first part + both names in parser order');
    $r = tool($ox, 'old', 'changeserver', [ @$cred, '-m', $S[0], '-s', 'x' ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Error: Invalid server id: x\n" ],
              'invalid server id: 1');
    $r = tool($ox, 'old', 'changeserver', [ @$cred, '-m', ' ', '-s', '8' ]);
    is_deeply([ $r->{rc}, $r->{err} ],
              [ 1, "Error: Please specify the schema name\n\n" ],
              'blank schema name: 1');
    $r = tool($ox, 'old', 'checkdatabase', [ '-h' ]);
    is($r->{rc}, 0, '-h: 0');
    like($r->{out}, qr/Entries marked with an asterisk/, 'usage');
};

subtest 'disableschema / enableschema: configdb, caches, -r' => sub {
    my $enabled = sub {
        $site->{db}->sql("SELECT c.cid, c.enabled, c.reason_id FROM context c"
            . " JOIN context_server2db_pool p USING (cid) WHERE p.db_schema"
            . " = '$_[0]' ORDER BY 1");
    };
    $ox->set_cache($_, { 1 => {}, 2 => {}, 3 => {} }) for qw(old new);
    my $r = tool($ox, 'old', 'disableschema', [ @$cred, '-m', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ], [ 0, '', '' ],
              'disableschema prints nothing, exit 0');
    is_deeply($enabled->($S[0]), [ [1, 0, 1431655765], [2, 0, 1431655765] ],
              'contexts disabled with the schema-move reason');
    is_deeply([ sort keys %{ $ox->cache('old') } ],
              [ sort qw(3 sessions_closed invalidations) ],
              'without -r: the own cluster drops the contexts');
    is_deeply($ox->cache('old')->{sessions_closed}, [1, 2], 'and sessions');
    ok(exists $ox->cache('new')->{1}, 'the other cluster still caches them');

    $r = tool($ox, 'old', 'enableschema',
              [ @$cred, '-m', $S[0], '-r', 'nohost:1099' ]);
    is($r->{rc}, 105, 'unreachable -r host: 105');
    is($r->{err}, "Error: Connection refused to host: nohost; nested"
       . " exception is: \n\tjava.net.ConnectException: Connection refused"
       . " (Connection refused)\n", 'ConnectException text');
    is($enabled->($S[0])->[0][1], 0, 'nothing changed');
    $r = tool($ox, 'old', 'enableschema', [ @$cred, '-m', $S[0], '-r', '' ]);
    is($r->{rc}, 103, 'empty -r: 103');

    $r = tool($ox, 'old', 'enableschema', [ @$cred, '-m', $S[0], '-r',
              $ox->rmi('old') . ' , ' . $ox->rmi('new') ]);
    is($r->{rc}, 0, 'enableschema -r old,new: 0');
    is_deeply($enabled->($S[0]), [ [1, 1, undef], [2, 1, undef] ],
              'enabled again');
    ok(!exists $ox->cache('new')->{1}, '-r: the other cluster invalidated');
    is_deeply($ox->cache('new')->{invalidations},
              [ { schema => $S[0], sessions => 0, by => 'old' } ],
              'enable: caches only, no session kill');
    ok(!exists $ox->cache('new')->{sessions_closed}, 'sessions stay');

    $ox->set_cache($_, { 1 => {}, 3 => {} }) for qw(old new);
    $r = tool($ox, 'new', 'disableschema', [ @$cred, '-m', $S[0], '-r',
              $ox->rmi('old') ]);
    is($r->{rc}, 0, 'disableschema -r old (run on new)');
    ok(!exists $ox->cache('old')->{1}, 'the listed cluster invalidated');
    ok(exists $ox->cache('new')->{1},
       'the local one not (it was not listed)');
    is_deeply($ox->cache('old')->{sessions_closed}, [1, 2], 'sessions closed');

    # a context disabled for another reason stays disabled
    $site->{db}->do("UPDATE context SET reason_id = 7 WHERE cid = 2");
    tool($ox, 'new', 'enableschema', [ @$cred, '-m', $S[0] ]);
    is_deeply($enabled->($S[0]), [ [1, 1, undef], [2, 0, 7] ],
              'enable keeps a context of another reason disabled');
    $site->{db}->do("UPDATE context SET enabled = 1, reason_id = NULL"
                    . " WHERE cid = 2");
};

subtest 'changeserver' => sub {
    my $r = tool($ox, 'old', 'changeserver', [ @$cred, '-m', $S[1], '-s', 8 ]);
    is($r->{rc}, 106, 'enabled contexts: 106');
    is($r->{err}, "server could not be changed: \nServer response:\n The"
       . " schema '$S[1]' is not disabled. The following contexts are still"
       . " enabled: [3, 4]\n\tat com.openexchange.stand.in(oxtool)\n\n",
       'its text');
    tool($ox, 'old', 'disableschema', [ @$cred, '-m', $S[1] ]);
    $r = tool($ox, 'old', 'changeserver', [ @$cred, '-m', $S[1], '-s', 8 ]);
    is($r->{rc}, 0, 'disabled: 0');
    is($r->{out}, "Successfully changed to server '8' for schema '$S[1]'.\n",
       'its text');
    is($site->{db}->value("SELECT DISTINCT server_id FROM"
       . " context_server2db_pool WHERE db_schema = '$S[1]'"), 8, 'moved');
    tool($ox, 'old', 'changeserver', [ @$cred, '-m', $S[1], '-s', 2 ]);
    tool($ox, 'old', 'enableschema', [ @$cred, '-m', $S[1] ]);
};

# ========================================== checkdatabase, unblockdatabase

my $ox8 = OxAdmin::oxtools($site, tasks => $TASKS, new_version => '8.0.0');
my $oxe = OxAdmin::oxtools($site, tasks => [], new_version => '8.0.0');

subtest 'checkdatabase: 7.10.x table, 8.x progress line, csv' => sub {
    set_lock($_, undef) for @S;
    my $r = tool($oxe, 'old', 'checkdatabase', $cred);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, fixture('checkdatabase-empty-7.10.txt') ],
              '7.10.x, nothing to report: the header alone');
    $r = tool($oxe, 'new', 'checkdatabase', $cred);
    is($r->{out}, fixture('checkdatabase-empty-8.txt'),
       '8.x: progress line, empty line, "Neither pending, ..."');
    set_lock($S[1], 1000);                    # fresh
    set_lock($S[2], 25 * 3600 * 1000);        # stale (> 24 h)
    $r = tool($ox, 'old', 'checkdatabase', $cred);
    is($r->{out}, fixture('checkdatabase-7.10.txt'),
       '7.10.x: pending, running, stale; padded (last column too)');
    $r = tool($ox8, 'new', 'checkdatabase', $cred);
    is($r->{out}, fixture('checkdatabase-8.txt'), '8.x: the same after the'
       . ' progress line');
    $r = tool($ox, 'old', 'checkdatabase', [ @$cred, '--csv' ]);
    is($r->{out}, fixture('checkdatabase-csv.txt'), '--csv');
    $r = tool($ox8, 'new', 'checkdatabase', [ @$cred, '--csv' ]);
    is($r->{out}, "Checking database schemas.\n\n"
       . fixture('checkdatabase-csv.txt'), '8.x --csv after the progress');
    $ox8->configure('new', checkdatabase_ms => 1200);
    $r = tool($ox8, 'new', 'checkdatabase', $cred);
    like($r->{out}, qr/\AChecking database schemas\.{3,4}\n\nid /,
         'a dot every 500 ms while the check runs') or diag $r->{out};
    $ox8->configure('new', checkdatabase_ms => undef);

    # against the documentation's example, modulo the data values
    my $doc = OxTest::_slurp("$FIX/doc/checkdatabase.txt");
    my @dre = (qr/\b1996\b/, qr/\bdatabase1_\d+\b/, qr/\bdatabase1\b/,
               qr/\bdb\.open-xchange\.com\b/);
    my @ore = (qr/(?<=^ )3\b/, qr/\box58_\d\b/, qr/\boxdb\b/,
               qr/\b127\.0\.0\.1\b/);
    my %doc = map { shape($_, @dre) => 1 } split /\n/, $doc;
    my @ours = map { shape($_, @ore) } split /\n/, fixture('checkdatabase-7.10.txt');
    is($ours[0], (map { shape($_, @dre) } split /\n/, $doc)[0],
       'header as documented');
    ok($doc{$_}, "documented: '$_'") for @ours[1 .. $#ours];
    like($doc, qr/^  id name {6}hostname {12}scheme {7}status {31}$/m,
         'the documented header is doOutput-padded (id right, status to 37)');
};

subtest 'unblockdatabase: every answer' => sub {
    set_lock($S[1], 1000);
    set_lock($S[2], 25 * 3600 * 1000);
    my $r = tool($ox, 'old', 'unblockdatabase', [ @$cred, '-i', 3 ]);
    is_deeply([ $r->{rc}, $r->{out} ],
              [ 0, fixture('unblockdatabase-7.10.txt') ],
              '7.10.x: unblocked the following schemas + table');
    is(lock_lm($S[2]), undef, 'the stale lock is gone');
    ok(lock_lm($S[1]), 'the fresh one is kept');
    $r = tool($ox, 'old', 'unblockdatabase', [ @$cred, '-i', 3 ]);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, "database 3 is already unblocked\n" ],
              'nothing stale: database 3 is already unblocked');
    $r = tool($ox, 'old', 'unblockdatabase', [ @$cred, '-n', 'oxdb' ]);
    is($r->{out}, "database oxdb is already unblocked\n", 'by -n name');
    $r = tool($ox, 'old', 'unblockdatabase',
              [ @$cred, '-i', 3, '--schema', $S[1] ]);
    is($r->{out}, "schema $S[1] is already unblocked\n",
       '--schema, fresh lock: is already unblocked');
    set_lock($S[1], 25 * 3600 * 1000);
    $r = tool($ox, 'old', 'unblockdatabase',
              [ @$cred, '-i', 3, '--schema', $S[1] ]);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, "schema $S[1] unblocked\n" ],
              '--schema, stale: schema S unblocked');
    set_lock($S[2], 25 * 3600 * 1000);
    $r = tool($ox8, 'new', 'unblockdatabase', [ @$cred, '-i', 3 ]);
    is($r->{out}, fixture('unblockdatabase-8.txt'), '8.x: an empty line'
       . ' before the table');
    $r = tool($ox, 'old', 'unblockdatabase', [ @$cred, '-i', 'x' ]);
    is_deeply([ $r->{rc}, $r->{err} ],
              [ 1, "Invalid input detected: Ids must be numbers!\n" ],
              '-i not a number: 1');
    $r = tool($ox, 'old', 'unblockdatabase', $cred);
    is_deeply([ $r->{rc}, $r->{err} ], [ 104, "Error: Either databasename or"
              . " databaseid must be given\n" ], 'neither -i nor -n: 104');
    $r = tool($ox, 'old', 'unblockdatabase', [ '-A', $U, '-i', 3 ],
              env => { ADMIN_PASSWORD => $P });
    is($r->{rc}, 101, 'unblockdatabase ignores ADMIN_PASSWORD: 101');

    my $doc = OxTest::_slurp("$FIX/doc/unblockdatabase.txt");
    my @d = split /\n/, $doc;
    is(shape($d[0], qr/1996/), shape("unblocked the following schemas from"
       . " database 3:", qr/\b3\b/), 'first line as documented');
    is(shape($d[2], qr/1996/), 'id name hostname scheme',
       'documented header columns');
    ok(!grep({ $_ eq '' } split /\n/, fixture('unblockdatabase-7.10.txt')),
       '7.10.x prints no empty line (the page shows one; 8.x code does)');
};

# ============================================================ runupdate

my ($T1, $T2, $T3) = map { $_->{name} } @$TASKS;
sub reset_schema {
    my ($s) = @_;
    mk_table($s);
    ssql($s, "DELETE FROM updateTask");
}

subtest 'runupdate 7.10.0 (JMX): options, failure lines, exit 0' => sub {
    reset_schema($S[0]);
    ssql($S[0], "CREATE TABLE IF NOT EXISTS make_fail (i INT)");
    my $r = tool($ox, 'old', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is($r->{rc}, 1, '-A is unknown to the JMX tool: 1');
    is($r->{err}, "Unable to parse command line: Unrecognized option: -A\n",
       'its text');
    like($r->{out}, qr/\Ausage: runUpdate\n -c,--context <arg> /,
         'HelpFormatter usage on stdout');
    $r = tool($ox, 'old', 'runupdate', []);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Missing context/schema"
              . " identifier.\n" ], 'no -c/-n: 1');
    $r = tool($ox, 'old', 'runupdate', [ '-c', 'x' ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Context parameter is not a"
              . " number: x\n" ], '-c not a number: 1');
    $r = tool($ox, 'old', 'runupdate', [ '-n' ]);
    is($r->{err}, "Unable to parse command line: Missing argument for"
       . " option: n\n", '-n without value');
    is_deeply(rows($S[0]), {}, 'nothing ran');

    $r = tool($ox, 'old', 'runupdate', [ '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ],
              [ 0, fixture('runupdate-jmx.txt'), '' ],
              'a failed task: " <SimpleName> (schema=s)" lines, exit 0');
    is_deeply(rows($S[0]), { $T1 => 1, $T2 => 1, $T3 => 0 },
              'one row per task, the failed one successful = 0');
    is(lock_lm($S[0]), undef, 'the lock is gone');
    $r = tool($ox, 'old', 'runupdate', [ '-l', 'jmx', '-s', 'x', '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, '' ],
              'again: a failed task is not run again (forceupdatetask is)');

    my @doc = split /\n/, OxTest::_slurp("$FIX/doc/runupdate-jmx.txt");
    my @our = split /\n/, fixture('runupdate-jmx.txt');
    is($our[0], "$doc[0] ", 'first line as documented, plus the blank the'
       . ' MBean puts before \R');
    is(shape($our[1], qr/\S+ \(schema=\S+\)/),
       shape($doc[1], qr/\S+ \(schema=\S+\)/), 'task lines as documented');
};

subtest 'runupdate 7.10.1 (RMI): credentials, failure table, exit 0' => sub {
    reset_schema($S[0]);
    my $r = tool($ox, 'new', 'runupdate', [ '-n', $S[0] ]);
    is($r->{rc}, 255, 'no -A/-P: 255');
    like($r->{out}, qr/\AYou must provide administrative credentials to proceed\.\nusage: runUpdate\n/,
         'the text on stdout, then the help');
    is($r->{err}, '', 'nothing on stderr');
    $r = tool($ox, 'new', 'runupdate', [ '-A', $U, '-n', $S[0] ]);
    is($r->{rc}, 255, 'only -A: 255');
    $r = tool($ox, 'new', 'runupdate', [ '-A', $U, '-P', 'x', '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Authentication failed\n" ],
              'wrong password: 1');
    $r = tool($ox, 'new', 'runupdate', [ @$cred ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Missing context/schema"
              . " identifier.\n" ], 'missing -n is checked before the'
              . ' credentials');
    $r = tool($ox, 'new', 'runupdate', [ '-l', 'admin', '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Unable to parse command line:"
              . " Unrecognized option: -l\n" ], '-l (JMX login) is unknown');
    is_deeply(rows($S[0]), {}, 'nothing ran');

    $r = tool($ox, 'new', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ],
              [ 0, fixture('runupdate-rmi.txt'), '' ],
              'failed task: header + TableWriter table, STILL exit 0');
    is_deeply(rows($S[0]), { $T1 => 1, $T2 => 1, $T3 => 0 }, 'rows');

    # forceupdatetask re-runs it: the row is updated in place
    my $uuid = sub { ssql($S[0], "SELECT HEX(uuid), successful FROM"
                          . " updateTask WHERE taskName = '$T3'") };
    my $before = $uuid->();
    ssql($S[0], "DROP TABLE make_fail");
    $r = tool($ox, 'new', 'forceupdatetask', [ @$cred, '-n', $S[0], '-t', $T3 ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ], [ 0, '', '' ],
              'forceupdatetask: nothing printed, 0');
    my $after = $uuid->();
    is(scalar @$after, 1, 'still one row for the task');
    is_deeply([ $after->[0][0], $after->[0][1] ], [ $before->[0][0], 1 ],
              'same row (uuid), now successful');

    # the early 7.10.1 service keyed the failures name/class/schema
    reset_schema($S[0]);
    ssql($S[0], "CREATE TABLE make_fail (i INT)");
    $ox->configure('new', rmi_failure_keys => 'name');
    $r = tool($ox, 'new', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ],
              [ 1, "The following update task(s) failed:\n",
                "An error occurred.\n" ], 'early 7.10.1: NPE, exit 1');
    $ox->configure('new', rmi_failure_keys => undef);

    reset_schema($S[0]);
    $r = tool($ox, 'new', 'runupdate', [ @$cred, '-c', 1 ]);
    is($r->{rc}, 0, '-c <cid>: the schema of that context');
    is(scalar keys %{ rows($S[0]) }, 3, 'ran');
    $ox->configure('new', master_auth => JSON::PP::false);
    reset_schema($S[0]);
    $r = tool($ox, 'new', 'runupdate', [ '-n', $S[0] ]);
    is($r->{rc}, 0, 'master authentication off: no credentials needed');
    $ox->configure('new', master_auth => JSON::PP::true);
    ssql($S[0], "DROP TABLE make_fail");
};

subtest 'errors inside the node are swallowed' => sub {
    reset_schema($S[0]);
    set_lock($S[0], 180_000);               # 3 minutes idle
    my $r = tool($ox, 'new', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ], [ 0, '', '' ],
              'lock held: nothing printed, exit 0');
    is_deeply(rows($S[0]), {}, 'no task ran');
    my $upd = "ERROR UPD-0003 Update conflict detected. Another process is"
            . " currently updating schema $S[0].";
    ok(grep({ /\Q$upd\E$/ } @{ $ox->node_log('new') }),
       'UPD-0003 only in the node log');
    ok(lock_lm($S[0]), '7.10.x: a lock idle for 3 minutes is left alone');
    $r = tool($ox, 'old', 'runupdate', [ '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, scalar keys %{ rows($S[0]) } ],
              [ 0, '', 0 ], '7.10.0 the same');

    set_lock($S[0], undef);
    $ox->node_fault('new', { sql_error => 'lock' });
    $r = tool($ox, 'new', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ], [ 0, '', '' ],
              'SQL error taking the lock: nothing printed, exit 0');
    is_deeply(rows($S[0]), {}, 'no task ran');
    ok(grep({ /ERROR SQL problem/ } @{ $ox->node_log('new') }), 'logged');
    $ox->node_fault('new', {});

    # an SQL error recording the second task aborts the update
    my @t = @$TASKS;
    $t[1] = { %{ $t[1] }, sql_error_if_table => 'sql_err' };
    $ox->tasks(\@t);
    ssql($S[0], "CREATE TABLE sql_err (i INT)");
    $r = tool($ox, 'new', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ], [ 0, '', '' ],
              'SQL error inside the update: nothing printed, exit 0');
    is_deeply(rows($S[0]), { $T1 => 1 }, 'the update stopped there');
    is(lock_lm($S[0]), undef, 'and unlocked');
    ssql($S[0], "DROP TABLE sql_err");
    $ox->tasks($TASKS);

    $r = tool($ox, 'new', 'runupdate', [ @$cred, '-n', 'nosuch' ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Unknown schema name: nosuch\n" ],
              'unknown schema (7.10.1+): the RemoteException message, 1');
    $r = tool($ox, 'old', 'runupdate', [ '-n', 'nosuch' ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Unexpected error: Unknown"
              . " schema name: nosuch\n" ], 'unknown schema (7.10.0): 1');
};

subtest 'lock rules: 7.10.x never takes over, 8.x after idleMillis' => sub {
    reset_schema($S[0]);
    set_lock($S[0], 180_000);
    my $r = tool($ox8, 'new', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, '' ], '8.x: ran');
    is(scalar keys %{ rows($S[0]) }, 3, '8.x: a lock idle 3 min (> 60 s) is'
       . ' taken over');
    is(lock_lm($S[0]), undef, 'and removed at the end');
    ok(grep({ /WARN Took over the idle lock/ } @{ $ox8->node_log('new') }),
       'logged');
    reset_schema($S[0]);
    set_lock($S[0], 10_000);
    tool($ox8, 'new', 'runupdate', [ @$cred, '-n', $S[0] ]);
    is_deeply(rows($S[0]), {}, '8.x: a lock idle 10 s is not');

    # refresh: 7.10.x every 5 minutes, 8.x every refreshIntervalMillis
    my $slow = [ { name => 'com.x.Slow', sleep => 2 } ];
    my $sample = sub {
        my ($o) = @_;
        reset_schema($S[0]);
        my $pid = tool($o, 'new', 'runupdate', [ @$cred, '-n', $S[0] ],
                       background => 1);
        my ($first, $later);
        OxTest::wait_for(sub { $first = lock_lm($S[0]) }, 10, 0.05);
        # until it is refreshed, or gone with the end of the 2 s update
        OxTest::wait_for(sub {
            my $t = lock_lm($S[0]);
            return 1 unless defined $t;
            $later = $t;
            return $t != $first;
        }, 10, 0.05);
        waitpid $pid, 0;
        return ($first, $later);
    };
    $ox->tasks($slow);
    my ($a, $b) = $sample->($ox);
    ok($a && $b && $a == $b, '7.10.1: not refreshed during its 2 s update');
    $ox->configure('new', refresh_ms => 300);
    ($a, $b) = $sample->($ox);
    ok($a && $b && $b > $a, '7.10.1, refresh_ms 300 (a test setting):'
       . ' refreshed');
    $ox->configure('new', refresh_ms => undef);
    $ox8->tasks($slow);
    $ox8->configure('new', refresh_ms => 300);
    ($a, $b) = $sample->($ox8);
    ok($a && $b && $b > $a, '8.x: refreshed every refreshIntervalMillis');
    $ox8->tasks($TASKS);
    $ox->tasks($TASKS);
};

subtest 'a killed client: the update goes on inside the node' => sub {
    reset_schema($S[0]);
    $ox->tasks([ { name => 'com.x.Slow', sleep => 2 }, { name => 'com.x.B' } ]);
    my $pid = tool($ox, 'new', 'runupdate', [ @$cred, '-n', $S[0] ],
                   background => 1, pgrp => 1);
    my $node;
    OxTest::wait_for(sub { $node = $ox->node_pid('new', $S[0]) }, 10, 0.05);
    ok($node, 'the update runs in a node process');
    isnt(getpgrp($node), $pid, 'in its own process group') if $node;
    kill 'KILL', -$pid;                         # the connector's timeout
    waitpid $pid, 0;
    is($? & 127, 9, 'client killed');
    ok($node && kill(0, $node), 'the node goes on');
    ok(OxTest::wait_for(sub { !lock_lm($S[0]) && keys %{ rows($S[0]) } == 2 },
                        15, 0.1), 'and finishes the update');
    is_deeply(rows($S[0]), { 'com.x.Slow' => 1, 'com.x.B' => 1 }, 'rows');
    ok(!grep({ $_->{pid} == $pid } @{ $ox->calls }),
       'the killed client logged no call end');

    # a hang: the lock stays fresh while the node lives, stale after
    reset_schema($S[0]);
    $ox->tasks([ { name => 'com.x.Hang', hang => 1 } ]);
    $ox->configure('new', refresh_ms => 200, stale_ms => 1500);
    $pid = tool($ox, 'new', 'runupdate', [ @$cred, '-n', $S[0] ],
                background => 1, pgrp => 1);
    OxTest::wait_for(sub { $node = $ox->node_pid('new', $S[0]) }, 10, 0.05);
    OxTest::wait_for(sub { lock_lm($S[0]) }, 10, 0.05);
    kill 'KILL', -$pid;
    waitpid $pid, 0;
    my $lm = lock_lm($S[0]);
    ok(OxTest::wait_for(sub { (lock_lm($S[0]) // 0) > $lm }, 5, 0.1),
       'hanging update: the lock is still refreshed');
    my $r = tool($ox, 'new', 'checkdatabase', $cred);
    like($r->{out}, qr/ \Q$S[0]\E Blocking updates running *\n/,
         'checkdatabase: Blocking updates running');
    kill 'KILL', $node;                        # the JVM dies
    OxTest::wait_for(sub { !kill 0, $node }, 5, 0.05);
    ok(OxTest::wait_for(sub {
        tool($ox, 'new', 'checkdatabase', $cred)->{out}
            =~ / \Q$S[0]\E Blocking updates running for too long\n/ }, 10,
        0.3), 'the JVM gone: the lock goes stale');
    $r = tool($ox, 'new', 'unblockdatabase', [ @$cred, '-i', 3, '--schema',
                                               $S[0] ]);
    is($r->{out}, "schema $S[0] unblocked\n", 'unblockdatabase');
    is(lock_lm($S[0]), undef, 'unlocked');
    $ox->configure('new', refresh_ms => undef, stale_ms => undef);
    $ox->tasks($TASKS);
};

# ============================================== listing and forcing tasks

sub tw {                 # TableWriter, for expected values
    my (@rows) = @_;
    my @w;
    for my $r (@rows) { for (0 .. $#$r) {
        $w[$_] = length $r->[$_] if length $r->[$_] > ($w[$_] // 0) } }
    return join '', map { my $r = $_; join(' ', map { sprintf '%-*s',
        $w[$_], $r->[$_] } 0 .. $#$r) . "\n" } @rows;
}

subtest 'listUpdateTasks: 7.10.2+ (-e pending, -r executed)' => sub {
    ok(!-e $ox->dir('new') . '/listUpdateTasks',
       '7.10.1 has no listUpdateTasks (it came with 7.10.2)');
    my $o = OxAdmin::oxtools($site, tasks => $TASKS, new_version => '7.10.2',
                             excluded_tasks => [ $T1 ]);
    reset_schema($S[1]);
    ssql($S[1], "INSERT INTO updateTask VALUES (0, '$T3', 0, 1, UNHEX("
         . "REPLACE(UUID(), '-', '')))");
    my $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-n', $S[1] ]);
    is($r->{rc}, 1, 'no mode switch: 1');
    is($r->{err}, "Unable to parse command line: Missing required option: "
       . "[-a Lists all pending and excluded update tasks (both via"
       . " excludedupdate.properties' file and namespace), -e Lists only"
       . " the pending update tasks, -x Lists only the update tasks excluded"
       . " both via excludedupdate.properties' file and namespace, -xf Lists"
       . " only the update tasks excluded via 'excludedupdate.properties'"
       . " file, -xn Lists only the update tasks excluded via namespace, -r"
       . " Lists executed update tasks of a schema]\n", 'its text');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-a', '-e', '-n', $S[1] ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Unable to parse command line:"
              . " The option 'e' was specified but an option from this group"
              . " has already been selected: 'a'\n" ], 'two switches: 1');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-a' ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Schema name must be defined.\n" ],
              'no -n: 1');
    $r = tool($o, 'new', 'listUpdateTasks', [ '-a', '-n', $S[1] ]);
    is($r->{rc}, 255, 'no credentials: 255');

    my $xf = "excluded via file 'excludedupdatetask.properties'";
    my $xn = "excluded via namespace 'groupware.utf8mb4'";
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-a', '-n', $S[1] ]);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, tw([ 'taskName', 'state' ],
        [ $T1, 'pending' ], [ $T1, $xf ], [ $T2, 'pending' ], [ $T2, $xn ],
        [ $T3, 'pending' ]) ], '-a: sorted by name; excluded tasks are'
        . ' ALSO pending, a failed one is pending');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-e', '-n', $S[1] ]);
    is($r->{out}, tw([ 'taskName', 'state' ], [ $T1, 'pending' ],
       [ $T2, 'pending' ], [ $T3, 'pending' ]),
       '-e (pending): the exclusions are not subtracted');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-xf', '-n', $S[1] ]);
    is($r->{out}, tw([ 'taskName', 'state' ], [ $T1, $xf ]), '-xf');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-xn', '-n', $S[1] ]);
    is($r->{out}, tw([ 'taskName', 'state' ], [ $T2, $xn ]),
       '-xn: every namespace-aware task, excluded namespace or not');
    set_lock($S[1], 0);
    my $lm = lock_lm($S[1]);
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-r', '-n', $S[1] ]);
    my $d = sub { POSIX::strftime('%Y-%m-%d %H:%M:%S %Z',
                                  localtime(int($_[0] / 1000))) };
    is($r->{out}, tw([ 'taskName', 'successful', 'lastModified' ],
       [ 'LOCKED', 'true', $d->($lm) ], [ $T3, 'false', $d->(1) ]),
       '-r (executed): every row, the LOCKED row too, sorted by name');
    set_lock($S[1], undef);
    ssql($S[1], "DELETE FROM updateTask");
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-r', '-n', $S[1] ]);
    is($r->{out}, "taskName successful lastModified\n",
       'nothing: the header alone');

    my @doc = split /\n/, OxTest::_slurp("$FIX/doc/listUpdateTasks-a.txt");
    is($doc[1], 'taskName state', 'documented header of -a');
    my %states = map { /^\S+ (.*)$/ ? ($1 => 1) : () } @doc[2 .. $#doc];
    ok($states{pending} && $states{$xf} && $states{$xn},
       'the documented state texts are ours');
    my %both;
    $both{ (split / /, $_)[0] }++ for @doc[2 .. $#doc];
    ok(grep({ $_ > 1 } values %both), 'the documentation, too, lists an'
       . ' excluded task as pending as well');
};

subtest 'listUpdateTasks: 8.x (-g pending, -e executed, -n required)' => sub {
    my $o = OxAdmin::oxtools($site, tasks => $TASKS, new_version => '8.0.0');
    reset_schema($S[1]);
    my $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-g' ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Missing required option: n\n" ],
              'no -n: the parser says so (no prefix)');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-n', $S[1] ]);
    like($r->{err}, qr/\AMissing required option: \[-a Lists all pending/,
         'no switch');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-e', '-n', $S[1] ]);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, "No entries found.\n" ],
              '-e is EXECUTED in 8.x; empty: No entries found.');
    $r = tool($o, 'new', 'listUpdateTasks', [ '-A', $U, '-P', '-secret',
                                              '-g', '-n', $S[1] ]);
    is($r->{err}, "Unable to parse command line: Missing argument for option:"
       . " P\n", '8.x DefaultParser: a'
       . ' password starting with "-" and a short option letter is an option');
    $r = tool($ox, 'new', 'runupdate', [ '-A', $U, '-P', '-secret', '-n', 'x' ]);
    is($r->{err}, "Authentication failed\n", '7.10.x PosixParser takes it as'
       . ' the value');
    $r = tool($o, 'new', 'listUpdateTasks', [ @$cred, '-g', '-n', $S[1] ]);
    like($r->{out}, qr/\AtaskName +state +reason *\n/, '-g: taskName state'
       . ' reason');
    is(scalar(() = $r->{out} =~ /\n/g), 4, 'three pending tasks');
};

subtest 'listUpdateTaskNamespaces' => sub {
    ok(!-e $ox->dir('new') . '/listupdatetasknamespaces',
       'no lower-case tool');
    my $all = "+- groupware.utf8mb4\n|--- $T2\n";
    my $r = tool($ox, 'old', 'listUpdateTaskNamespaces', []);
    is_deeply([ $r->{rc}, $r->{out} ], [ 0, $all ],
              '7.10.0: no credentials, "+- ns" and "|--- task" lines');
    $r = tool($ox, 'new', 'listUpdateTaskNamespaces', []);
    is($r->{rc}, 255, '7.10.1: credentials required, 255');
    $r = tool($ox, 'new', 'listUpdateTaskNamespaces', $cred);
    is($r->{out}, $all, '7.10.1 with credentials');
    $r = tool($ox, 'new', 'listUpdateTaskNamespaces', [ @$cred, '-n' ]);
    is($r->{out}, "+- groupware.utf8mb4\n", '-n: namespaces only');
};

subtest 'forceupdatetask' => sub {
    reset_schema($S[2]);
    my $r = tool($ox, 'new', 'forceupdatetask', [ @$cred, '-n', $S[2] ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Missing update task's class"
              . " name.\n" ], 'no -t: 1');
    $r = tool($ox, 'new', 'forceupdatetask', [ '-n', $S[2], '-t', $T1 ]);
    is($r->{rc}, 255, '7.10.1 without credentials: 255');
    $r = tool($ox, 'new', 'forceupdatetask', [ @$cred, '-c', 'x', '-t', $T1 ]);
    is($r->{err}, "Context identifier parameter is not a number: x\n",
       '-c not a number');
    set_lock($S[2], 1000);
    $r = tool($ox, 'new', 'forceupdatetask', [ @$cred, '-n', $S[2], '-t', $T1 ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Update conflict detected."
              . " Another process is currently updating schema $S[2].\n" ],
              'lock held: the error reaches the client (not swallowed), 1');
    set_lock($S[2], undef);
    $r = tool($ox, 'old', 'forceupdatetask', [ '-n', $S[2], '-t', $T1 ]);
    is_deeply([ $r->{rc}, $r->{out}, $r->{err} ], [ 0, '', '' ],
              '7.10.0: JMX, no credentials');
    is_deeply(rows($S[2]), { $T1 => 1 }, 'the task ran');
    $r = tool($ox, 'old', 'forceupdatetask', [ '-n', $S[2], '-t', 'com.x.No' ]);
    is_deeply([ $r->{rc}, $r->{err} ], [ 1, "Unexpected error: Unknown update"
              . " task: com.x.No\n" ], 'unknown task (7.10.0)');
};

subtest 'calls.log' => sub {
    my $c = $ox->calls->[-1];
    is_deeply([ sort keys %$c ], [ sort qw(cluster tool argv pid start end
              spawned exit env_password version) ], 'fields');
    ok($c->{spawned} <= $c->{start} + 20 && $c->{start} - $c->{spawned} < 5000,
       "spawned (the fork, 10 ms steps) comes before start (the interpreter's first line)");
    is_deeply([ @$c{qw(cluster tool exit version)} ],
              [ 'old', 'forceupdatetask', 1, '7.10.0' ], 'values');
};

done_testing();
