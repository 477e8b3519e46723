#!/usr/bin/perl
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# The oxmigrate command (cli/, docs/cli.md) against the real admin API
# (nginx + MariaDB): every OX tool's subcommand with the seeds' flags and
# output formats, jobs and lookup, --json (parsed, equal to the API's
# answer), --csv, credentials (netrc file, -A/-P, env), and every exit code:
# 0, 101 (401), 103, 104, 105 (unreachable, timeout), 106, 107, 109, 110,
# 111 (failed tasks / job), 112 (no lookup endpoint), 113 (interrupted),
# 102 (lookup: no such context), 114 (paused), 115 (cancelled).
#
# The binary is built from cli/ into this test's temporary directory (or
# taken from $OXM_CLI, e.g. an installed /usr/bin/oxmigrate).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use OxTest;
use OxAdmin;

my $tmp = OxTest::tmpdir();
my $root = OxTest::root();

my $CLI = $ENV{OXM_CLI};
unless ($CLI) {
    # with the ASan suite (OXM_ASAN=1) the command is an ASan/UBSan build too
    my $flags = $ENV{OXM_ASAN}
        ? "CFLAGS='-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined"
          . " -fno-sanitize-recover=undefined' LDFLAGS='-fsanitize=address,undefined'"
        : '';
    system("make -s -C '$root/cli' BUILD='$tmp' $flags >'$tmp/cli-build.log' 2>&1") == 0
        or BAIL_OUT("building cli/ failed: " . (OxTest::_slurp("$tmp/cli-build.log") // ''));
    $CLI = "$tmp/oxmigrate";
}

my $site = OxAdmin::site('cli', schemas => 4, contexts => 2);
my @s = @{ $site->{schemas} };
my $db = $site->{db};

# t.Bad fails where the schema has a table "make_bad_fail"; t.Ns is
# excluded by namespace, t.File by the properties file
my $excl = "$tmp/excludedupdatetasks.properties";
OxTest::_spew($excl, "t.File=true\n");
my $tasks = OxAdmin::tasks(
    '010_first.sql' => "-- task: t.First\nCREATE TABLE IF NOT EXISTS run_log"
                     . " (task VARCHAR(64));\n"
                     . "INSERT INTO run_log VALUES ('t.First');\n",
    '020_bad.sql' => "-- task: t.Bad\nBEGIN NOT ATOMIC\n"
                   . "  IF EXISTS (SELECT 1 FROM information_schema.tables"
                   . " WHERE table_schema = DATABASE()"
                   . " AND table_name = 'make_bad_fail') THEN\n"
                   . "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'bad';\n"
                   . "  END IF;\nEND;\n",
    '030_ns.sql' => "-- task: t.Ns\n-- namespace: ns.excluded\n-- nothing\n",
    '040_file.sql' => "-- task: t.File\n-- nothing\n",
);
my $ng = OxAdmin::nginx($site, tasks => $tasks, extra =>
    "oxmigrate_excluded_namespaces ns.excluded;\n"
    . "oxmigrate_excluded_update_tasks $excl;");
my $URL = "http://127.0.0.1:" . $ng->port('A') . "/oxmigrate/v1";

my $netrc = "$tmp/netrc";
OxTest::_spew($netrc, "machine 127.0.0.1 login $OxAdmin::USER"
                      . " password $OxAdmin::PASS\n");
chmod 0600, $netrc;
mkdir "$tmp/home";

sub api { OxAdmin::api($ng, @_) }

# cli([args], env => {K => V|undef}, stdin => TEXT, timeout => S, bin => PATH)
#   -> {rc, out, err, json, secs}; cli_start: the same, in the background
#   (->{out_file}), cli_wait($run) collects it
my $n = 0;
sub cli_start {
    my ($args, %o) = @_;
    my %env = (OXMIGRATE_URL => $URL, OXMIGRATE_CREDENTIALS => $netrc,
               OXMIGRATE_POLL_MS => 100, HOME => "$tmp/home", TZ => 'UTC',
               %{ $o{env} // {} });
    $n++;
    my ($in, $out, $err) = map { "$tmp/cli-$n.$_" } qw(in out err);
    OxTest::_spew($in, $o{stdin} // '');
    my $t0 = time;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        for my $k (keys %env) {
            if (defined $env{$k}) { $ENV{$k} = $env{$k} }
            else { delete $ENV{$k} }
        }
        open STDIN, '<', $in or die;
        open STDOUT, '>', $out or die;
        open STDERR, '>', $err or die;
        my $bin = $o{bin} // $CLI;
        exec { $bin } $bin, @$args;
        die "exec: $!";
    }
    return { pid => $pid, t0 => $t0, out_file => $out, err_file => $err,
             timeout => $o{timeout} // 60 };
}

sub cli_wait {
    my ($run) = @_;
    my $end = $run->{t0} + $run->{timeout};
    my $st;
    while (1) {
        my $w = waitpid($run->{pid}, WNOHANG);
        if ($w == $run->{pid}) { $st = $?; last }
        if (time > $end) { kill 'KILL', $run->{pid}; waitpid($run->{pid}, 0); $st = -1; last }
        sleep 0.02;
    }
    my $r = { rc => $st == -1 ? 'timeout' : ($st & 127 ? "signal " . ($st & 127) : $st >> 8),
              out => OxTest::_slurp($run->{out_file}) // '',
              err => OxTest::_slurp($run->{err_file}) // '',
              secs => time - $run->{t0} };
    $r->{json} = OxTest::json($r->{out});
    return $r;
}

sub cli { return cli_wait(cli_start(@_)) }

# the lines of a table with runs of spaces collapsed (the seeds' format)
sub lines {
    my ($text) = @_;
    return [ map { s/ +/ /gr =~ s/ $//r } split /\n/, $text ];
}

my $r;

# ------------------------------------------------------------ usage errors

$r = cli([]);
is($r->{rc}, 104, 'no command: 104');
like($r->{err}, qr/usage: oxmigrate COMMAND/, 'and the usage');

$r = cli(['--help']);
is($r->{rc}, 0, '--help: 0');
like($r->{out}, qr/^  $_ /m, "--help lists $_")
    for qw(upgradeschemata registerserver listdatabaseschema disableschema
           changeserver runupdate enableschema runallupdate listUpdateTasks
           forceupdatetask listupdatetasknamespaces checkdatabase
           unblockdatabase jobs lookup);

$r = cli(['nosuchtool']);
is($r->{rc}, 109, 'unknown command: 109');
like($r->{err}, qr/unknown command 'nosuchtool'/, 'named');

$r = cli(['disableschema', '--help']);
is($r->{rc}, 0, 'disableschema --help: 0');
like($r->{out}, qr/-m,--schema <arg>/, 'shows -m,--schema');

$r = cli(['disableschema']);
is($r->{rc}, 104, 'disableschema without -m: 104 (missing option)');
like($r->{err}, qr/missing option -m/, 'says which');

$r = cli(['disableschema', '-m']);
is($r->{rc}, 104, '-m without its value: 104');

$r = cli(['disableschema', '-m', $s[0], '-z']);
is($r->{rc}, 109, 'unknown option: 109');
$r = cli(['disableschema', '-m', $s[0], '--bogus']);
is($r->{rc}, 109, 'unknown long option: 109');
$r = cli(['disableschema', '-m', $s[0], 'extra']);
is($r->{rc}, 109, 'stray argument: 109');

$r = cli(['changeserver', '-s', 'eight', '-m', $s[0]]);
is($r->{rc}, 109, 'changeserver -s not a number: 109 (illegal value)');
$r = cli(['changeserver', '-m', $s[0]]);
is($r->{rc}, 104, 'changeserver without -s: 104');

$r = cli(['listUpdateTasks', '-n', $s[0], '-a', '-e']);
is($r->{rc}, 109, 'listUpdateTasks -a -e: 109');
$r = cli(['unblockdatabase']);
is($r->{rc}, 104, 'unblockdatabase without -i/-n: 104');
$r = cli(['unblockdatabase', '-i', 3, '-n', 'oxdb']);
is($r->{rc}, 109, 'unblockdatabase -i and -n: 109');
$r = cli(['upgradeschemata', '-n', 'x', '--parallel', 0]);
is($r->{rc}, 109, 'upgradeschemata --parallel 0: 109');
$r = cli(['jobs', 'frobnicate']);
is($r->{rc}, 109, 'jobs frobnicate: 109');
$r = cli(['jobs', 'show']);
is($r->{rc}, 104, 'jobs show without an id: 104');
$r = cli(['lookup']);
is($r->{rc}, 104, 'lookup without a login: 104');

$r = cli(['disableschema', '--json']);
is($r->{rc}, 104, 'usage error with --json: 104');
is($r->{json}{error}{code}, 'missing_option', '... stdout is a JSON error');
$r = cli(['nosuchtool', '--json']);
is($r->{json}{error}{code}, 'illegal_option', 'unknown command with --json: JSON');

is($db->value('SELECT COUNT(*) FROM oxmigrate_audit'), 0,
   'no usage error reached the API');

# ------------------------------------------------------------ reachability

my $dead = OxTest::free_port();
$r = cli(['listdatabaseschema'], env => { OXMIGRATE_URL => "http://127.0.0.1:$dead/oxmigrate/v1" });
is($r->{rc}, 105, 'API unreachable: 105');
like($r->{err}, qr/cannot reach the admin API at http:\/\/127\.0\.0\.1:$dead/,
     'says where');
$r = cli(['listdatabaseschema', '--json', '--url', "http://127.0.0.1:$dead/x"]);
is($r->{rc}, 105, '--url, unreachable, --json: 105');
is($r->{json}{error}{code}, 'unreachable', '... a JSON error on stdout');

# a listener that never answers: --responsetimeout
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 5, ReuseAddr => 1) or die $!;
$r = cli(['listdatabaseschema', '--responsetimeout', 1, '--url',
          'http://127.0.0.1:' . $silent->sockport . '/oxmigrate/v1']);
is($r->{rc}, 105, 'no answer within --responsetimeout 1: 105');
cmp_ok($r->{secs}, '<', 5, '... after about a second');
close $silent;

# something that answers, but not the API (nginx's own 404 page)
$r = cli(['listdatabaseschema', '--url', "http://127.0.0.1:" . $ng->port('A') . "/elsewhere"]);
is($r->{rc}, 107, 'not the API (HTML 404): 107');
$r = cli(['listdatabaseschema', '--json', '--url', "http://127.0.0.1:" . $ng->port('A') . "/elsewhere"]);
is($r->{json}{error}{code}, 'invalid_response', '... --json: a JSON error');

# ------------------------------------------------------------ credentials

$r = cli(['listdatabaseschema'], env => { OXMIGRATE_CREDENTIALS => undef });
is($r->{rc}, 101, 'no credentials: 101');
like($r->{err}, qr/Invalid credentials/, 'says so');

$r = cli(['listdatabaseschema', '-A', $OxAdmin::USER, '-P', 'wrong'],
         env => { OXMIGRATE_CREDENTIALS => undef });
is($r->{rc}, 101, 'wrong password (-A/-P): 101');
$r = cli(['listdatabaseschema', '-A', $OxAdmin::USER, '-P', 'wrong', '--json'],
         env => { OXMIGRATE_CREDENTIALS => undef });
is($r->{rc}, 101, '... with --json: 101');
ok(defined $r->{json}{error}, '... and JSON on stdout');

$r = cli(['listdatabaseschema', '-A', $OxAdmin::USER, '-P', $OxAdmin::PASS],
         env => { OXMIGRATE_CREDENTIALS => undef });
is($r->{rc}, 0, '-A/-P: 0');

$r = cli(['listdatabaseschema'], env => { http_proxy => "http://127.0.0.1:$dead",
                                          no_proxy => undef, NO_PROXY => undef });
is($r->{rc}, 0, 'a $http_proxy is not used for the loopback API');

$r = cli(['listdatabaseschema', '-P', 'wrong']);
is($r->{rc}, 101, '-P overrides the credentials file');

my $other = "$tmp/netrc-other";
OxTest::_spew($other, "machine 127.0.0.1 login $OxAdmin::USER password nope\n");
chmod 0600, $other;
$r = cli(['listdatabaseschema', '--credentials', $other]);
is($r->{rc}, 101, '--credentials FILE is used (and wins over the env)');
$r = cli(['listdatabaseschema', '--credentials', "$tmp/none"]);
is($r->{rc}, 109, 'an unreadable credentials file: 109');

chmod 0644, $netrc;
$r = cli(['listdatabaseschema']);
is($r->{rc}, 0, 'a credentials file readable by others still works');
like($r->{err}, qr/readable by others/, '... with a warning');
chmod 0600, $netrc;

$r = cli(['listdatabaseschema'], env => { OXMIGRATE_URL => undef });
is($r->{rc}, 105, 'without OXMIGRATE_URL the default URL (port 8080) is asked')
    or diag $r->{err};
like($r->{err}, qr{http://127\.0\.0\.1:8080/oxmigrate/v1/schemas}, '... that one');

# ------------------------------------------------------------ read-only tools

my $api = api(GET => 'schemas')->{json};
$r = cli(['listdatabaseschema']);
is($r->{rc}, 0, 'listdatabaseschema: 0');
my $l = lines($r->{out});
is($l->[0], 'id hostname scheme contexts enabled maintenance server status',
   'header');
my $host = $api->{schemas}[0]{host};
is_deeply([ @$l[1 .. 4] ],
          [ map { "3 $host $_ 2 2 0 2 needs update" } @s ], 'one row per schema');
$r = cli(['listdatabaseschema', '--json']);
is_deeply($r->{json}, $api, '--json: the API answer');
$r = cli(['listdatabaseschema', '--csv']);
is((split /\n/, $r->{out})[0],
   '"id","hostname","scheme","contexts","enabled","maintenance","server","status"',
   '--csv header');
is((split /\n/, $r->{out})[1], qq{"3","$host","$s[0]","2","2","0","2","needs update"},
   '--csv row');

$r = cli(['checkdatabase']);
is($r->{rc}, 0, 'checkdatabase: 0');
(my $h = $host) =~ s/:\d+$//;
is_deeply(lines($r->{out}), [ 'id name hostname scheme status',
                              map { "3 oxdb $h $_ Needs update" } @s ],
          'the seed\'s columns and status text');
$r = cli(['checkdatabase', '--json']);
is_deeply($r->{json}, api(GET => 'databases/check')->{json}, '--json');

$r = cli(['listUpdateTasks', '-a', '-n', $s[0]]);
is($r->{rc}, 0, 'listUpdateTasks -a: 0');
is_deeply(lines($r->{out}), [ 'taskName state', 't.First pending', 't.Bad pending',
                              "t.Ns excluded via namespace 'ns.excluded'",
                              "t.File excluded via file 'excludedupdatetask.properties'" ],
          '-a: pending and excluded, OX\'s words');
$r = cli(['listUpdateTasks', '-g', '-n', $s[0]]);
is_deeply(lines($r->{out}), [ 'taskName state', 't.First pending', 't.Bad pending' ],
          '-g: pending only');
$r = cli(['listUpdateTasks', '-x', '-n', $s[0]]);
is_deeply(lines($r->{out}), [ 'taskName state',
                              "t.Ns excluded via namespace 'ns.excluded'",
                              "t.File excluded via file 'excludedupdatetask.properties'" ],
          '-x: excluded only');
$r = cli(['listUpdateTasks', '-e', '-n', $s[0]]);
is_deeply(lines($r->{out}), [ 'taskName successful lastModified' ],
          '-e: nothing executed yet');
$r = cli(['listUpdateTasks', '-n', 'nope']);
is($r->{rc}, 103, 'listUpdateTasks -n unknown schema: 103');
$r = cli(['listupdatetasks', '-x', '-n', $s[0], '--json']);
is_deeply($r->{json}, api(GET => "schemas/$s[0]/updatetasks?state=excluded")->{json},
          'listupdatetasks (lower case) -x --json: the API answer');

$r = cli(['listupdatetasknamespaces']);
is($r->{rc}, 0, 'listupdatetasknamespaces: 0');
is($r->{out}, "+- ns.excluded\n|--- t.Ns\n", 'OX\'s tree');
$r = cli(['listupdatetasknamespaces', '--json']);
is_deeply($r->{json}, api(GET => 'updatetasks/namespaces')->{json}, '--json');

# ------------------------------------------------------------ the seed's steps 3-7

$r = cli(['registerserver', '-n', 'oxserver-new']);
is($r->{rc}, 0, 'registerserver: 0');
is($r->{out}, "server 101 registered\n", 'OX\'s output');
$r = cli(['registerserver', '-n', 'oxserver-new']);
is($r->{rc}, 106, 'registerserver again: 106');
like($r->{err}, qr/already registered with id '101'/, 'the API\'s message');
$r = cli(['registerserver', '-n', 'oxserver-new', '--json']);
is($r->{json}{error}{code}, 'server_exists', '--json: the error answer');
is($r->{json}{id}, 101, '... unchanged');

$r = cli(['listserver']);
is_deeply(lines($r->{out}), [ 'id name', '2 oxserver-old', '8 oxserver-xyz',
                              '101 oxserver-new' ], 'listserver');

$r = cli(['disableschema', '-m', $s[0]]);
is($r->{rc}, 0, 'disableschema: 0');
is($r->{out}, "schema $s[0] disabled (2 contexts changed)\n", 'says what changed');
is($db->value("SELECT COUNT(*) FROM context WHERE cid IN (1, 2) AND enabled = 0"
              . " AND reason_id = 1431655765"), 2, 'contexts disabled');
$r = cli(['disableschema', '-m', 'nope']);
is($r->{rc}, 103, 'disableschema unknown schema: 103');

$r = cli(['changeserver', '-s', 8, '-m', $s[1]]);
is($r->{rc}, 106, 'changeserver on an enabled schema: 106');
like($r->{err}, qr/The schema '\Q$s[1]\E' is not disabled\. The following contexts are still enabled: \[3, 4\]/,
     'OX\'s message');
$r = cli(['changeserver', '-s', 101, '-m', $s[0]]);
is($r->{rc}, 0, 'changeserver: 0');
is($r->{out}, "schema $s[0] changed to server 101 (2 contexts)\n", 'output');
is($db->value("SELECT COUNT(*) FROM context_server2db_pool WHERE db_schema = '$s[0]'"
              . " AND server_id = 101"), 2, 'moved');

$r = cli(['runupdate', '-n', $s[0]]);
is($r->{rc}, 0, 'runupdate: 0');
is($r->{out}, '', 'nothing failed, nothing printed (as OX)');
$r = cli(['listUpdateTasks', '-e', '-n', $s[0]]);
$l = lines($r->{out});
is($l->[0], 'taskName successful lastModified', '-e header');
like($l->[1], qr/^t\.First true \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, '-e row as OX');
like($l->[2], qr/^t\.Bad true /, 'both tasks');

$r = cli(['enableschema', '-m', $s[0]]);
is($r->{rc}, 0, 'enableschema: 0');
is($r->{out}, "schema $s[0] enabled (2 contexts changed)\n", 'output');

# a link named like the tool (as /opt/open-xchange/sbin/disableschema)
symlink($CLI, "$tmp/disableschema") or die $!;
$r = cli(['-m', $s[0], '--json'], bin => "$tmp/disableschema");
is($r->{rc}, 0, 'called as "disableschema": 0');
is($r->{json}{schema}, $s[0], '... disabled through the API');
cli(['enableschema', '-m', $s[0]]);

# ------------------------------------------------------------ update tasks failing

OxAdmin::schema_sql($s[1], 'CREATE TABLE make_bad_fail (x INT)');
$r = cli(['runupdate', '-n', $s[1]]);
is($r->{rc}, 111, 'runupdate with a failed task: 111');
is($r->{out}, "The following update task(s) failed:\nt.Bad (schema=$s[1])\n",
   'OX\'s lines');
$r = cli(['runupdate', '-n', $s[1], '--json']);
is($r->{rc}, 0, 'again (nothing left to run, failed tasks are not re-run): 0');
is_deeply($r->{json}{failed}, [], '--json: the API answer');

$r = cli(['forceupdatetask', '-t', 't.Bad', '-n', $s[1]]);
is($r->{rc}, 111, 'forceupdatetask of a failing task: 111');
like($r->{out}, qr/^t\.Bad \(schema=\Q$s[1]\E\)$/m, 'names it');
OxAdmin::schema_sql($s[1], 'DROP TABLE make_bad_fail');
$r = cli(['forceupdatetask', '-l', $OxAdmin::USER, '-s', $OxAdmin::PASS,
          '-t', 't.Bad', '-n', $s[1]], env => { OXMIGRATE_CREDENTIALS => undef });
is($r->{rc}, 0, 'forceupdatetask -l -s (OX\'s JMX flags) after the fix: 0');
is(OxAdmin::task_rows($s[1])->{'t.Bad'}, 1, 'the row says successful');
$r = cli(['forceupdatetask', '-t', 'nope', '-n', $s[1]]);
is($r->{rc}, 103, 'forceupdatetask unknown task: 103');
$r = cli(['forceupdatetask', '-t', 't.First']);
is($r->{rc}, 0, 'forceupdatetask on all schemas: 0');
is(OxAdmin::task_rows($s[3])->{'t.First'}, 1, 'ran in the last schema');

# ------------------------------------------------------------ locks

my $LOCK = "INSERT INTO updateTask (cid, taskName, successful, lastModified, uuid)"
         . " VALUES (0, 'LOCKED', 1, %s, UNHEX('8d8b93e559794baca39daef8f87087a1'))";
OxAdmin::schema_sql($s[2], sprintf($LOCK, 'UNIX_TIMESTAMP() * 1000 + 600000'));
$r = cli(['runupdate', '-n', $s[2]]);
is($r->{rc}, 106, 'runupdate on a locked schema: 106');
like($r->{err}, qr/Update conflict detected\. Another process is currently updating schema \Q$s[2]\E\./,
     'OX\'s UPD-0003 message');
$r = cli(['checkdatabase']);
like($r->{out}, qr/^3 +oxdb +\S+ +\Q$s[2]\E +Blocking updates running$/m,
     'checkdatabase: Blocking updates running');

OxAdmin::schema_sql($s[2], "UPDATE updateTask SET lastModified = 1000 WHERE taskName = 'LOCKED'");
$r = cli(['checkdatabase']);
like($r->{out}, qr/^3 +oxdb +\S+ +\Q$s[2]\E +Blocking updates running for too long$/m,
     'checkdatabase: ... for too long');
$r = cli(['unblockdatabase', '-i', 3]);
is($r->{rc}, 0, 'unblockdatabase -i: 0');
is_deeply(lines($r->{out}), [ 'unblocked the following schemas from database 3:',
                              'id name hostname scheme', "3 oxdb $h $s[2]" ],
          'the seed\'s output');

OxAdmin::schema_sql($s[2], sprintf($LOCK, 1000));
$r = cli(['unblockdatabase', '-n', 'oxdb', '--schema', $s[2], '--json']);
is($r->{rc}, 0, 'unblockdatabase -n --schema --json: 0');
is($r->{json}{unblocked}[0]{scheme}, $s[2], '--json: the API answer');
$r = cli(['unblockdatabase', '-n', 'nope']);
is($r->{rc}, 103, 'unblockdatabase -n unknown: 103');
$r = cli(['unblockdatabase', '-i', 77]);
is($r->{rc}, 103, 'unblockdatabase -i unknown: 103');
$r = cli(['unblockdatabase', '-i', 'x']);
is($r->{rc}, 109, 'unblockdatabase -i not a number: 109');

# ------------------------------------------------------------ upgradeschemata

$r = cli(['upgradeschemata', '-n', 'oxserver-xyz']);
is($r->{rc}, 110, 'upgradeschemata onto a registered server, no terminal: 110');
is((split /\n/, $r->{out})[0], "WARNING: The specified server is already registered with id '8'.",
   'the seed\'s warning');
like($r->{out}, qr/type 'abort' to abort the upgrade process, otherwise, type 'continue' to proceed/,
     '... all of it');
like($r->{err}, qr/--continue/, 'and how to go on');
# on a terminal (script(1) gives it one) the command waits for the answer
SKIP: {
    skip 'no script(1)', 4 unless -x '/usr/bin/script';
    $r = cli(['-qec', "$CLI upgradeschemata -n oxserver-xyz --dry-run", '/dev/null'],
             bin => '/usr/bin/script', stdin => "yes\nabort\n");
    is($r->{rc}, 110, 'on a terminal, answered abort: 110');
    like($r->{out}, qr/Type 'abort' or 'continue'/, '... another answer is asked again');
    $r = cli(['-qec', "$CLI upgradeschemata -n oxserver-xyz --dry-run", '/dev/null'],
             bin => '/usr/bin/script', stdin => "continue\n");
    is($r->{rc}, 0, 'answered continue: 0');
    like($r->{out}, qr/^Would upgrade onto server 'oxserver-xyz' \(id 8\)/m,
         '... and it went on (--dry-run: the plan)');
}
$r = cli(['upgradeschemata', '-n', 'oxserver-xyz', '--json']);
is($r->{rc}, 110, '... --json: 110');
is($r->{json}{error}{code}, 'server_exists', '... the API answer');
is($db->value('SELECT COUNT(*) FROM oxmigrate_job'), 0, 'no job started');

$r = cli(['upgradeschemata', '-n', 'oxserver-xyz', '--continue', '--dry-run', '-k', "$s[1],$s[2]"]);
is($r->{rc}, 0, '--dry-run: 0');
$l = lines($r->{out});
like($l->[0], qr/^Would upgrade onto server 'oxserver-xyz' \(id 8\): disable, changeserver, update, enable$/,
     'the plan\'s head');
is_deeply([ @$l[1 .. 3] ], [ 'id hostname scheme contexts pending',
                             "3 $host $s[0] 2 0", "3 $host $s[3] 2 1" ],
          'the plan without -k\'s schemas');

OxAdmin::schema_sql($s[2], 'CREATE TABLE make_bad_fail (x INT)');
$r = cli(['upgradeschemata', '-A', $OxAdmin::USER, '-P', $OxAdmin::PASS,
          '-n', 'oxserver-xyz', '--continue', '-f', '-m', $s[0], '-k', $s[1]],
         env => { OXMIGRATE_CREDENTIALS => undef });
is($r->{rc}, 111, 'upgradeschemata -f -m -k, one schema failing: 111');
$l = lines($r->{out});
is($l->[0], 'Attempting to upgrade 2 schemas in total...', 'first line');
ok((grep { $_ eq "Schema $s[2] failed: update tasks failed; disabled on the new server (POST /schemas/{s}/revert takes it back)" } @$l), 'the failed schema')
    or diag explain $l;
ok((grep { /^Schema \Q$s[3]\E upgraded \(downtime \d+ ms\)\.$/ } @$l), 'the upgraded one');
ok((grep { $_ eq 'Processed 2 of 2 schemas.' } @$l), 'Processed 2 of 2 schemas.');
is_deeply([ @$l[-2, -1] ], [ 'The following update task(s) failed:', "t.Bad (schema=$s[2])" ],
          'ends with the failed tasks');
like($r->{err}, qr/job \d+ failed: 1 of 2 schemas failed/, 'stderr sums up');
is($db->value("SELECT COUNT(*) FROM context_server2db_pool WHERE server_id = 8"
              . " AND db_schema = '$s[3]'"), 2, 'the good schema moved');
my $job = $db->value('SELECT MAX(id) FROM oxmigrate_job');

# ------------------------------------------------------------ jobs

$r = cli(['jobs']);
is($r->{rc}, 0, 'jobs: 0');
$l = lines($r->{out});
is($l->[0], 'id kind state processed total failed user started finished', 'header');
like($l->[1], qr/^$job upgrade failed 2 2 1 oxadminmaster \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \d{4}-/,
     'the job');
$r = cli(['jobs', 'list', '--json', '--limit', 5]);
is_deeply($r->{json}, api(GET => 'jobs?limit=5')->{json}, 'jobs list --json');
$r = cli(['jobs', 'list', '--csv']);
like((split /\n/, $r->{out})[1], qr/^"$job","upgrade","failed","2","2","1",/, 'jobs --csv');

$r = cli(['jobs', 'show', $job]);
is($r->{rc}, 0, 'jobs show: 0');
like($r->{out}, qr/^state: +failed$/m, 'state');
like($r->{out}, qr/^progress: +2 of 2 schemas, 1 failed$/m, 'progress');
like($r->{out}, qr/^\Q$s[2]\E +failed +- +t\.Bad +update tasks failed; disabled on the new server/m,
     'the failed schema');
like($r->{out}, qr/^\Q$s[3]\E +done +\d+ +- +-$/m, 'the done one');
$r = cli(['jobs', 'show', $job, '--json']);
is_deeply($r->{json}, api(GET => "jobs/$job")->{json}, 'jobs show --json');
$r = cli(['jobs', 'show', 999]);
is($r->{rc}, 103, 'jobs show unknown: 103');

$r = cli(['jobs', 'watch', $job]);
is($r->{rc}, 111, 'jobs watch of a failed job: 111');
like($r->{out}, qr/^job $job upgrade failed: 2\/2 schemas, 1 failed, 0 left$/m,
     'its progress line');

$r = cli(['jobs', 'resume', $job]);
is($r->{rc}, 106, 'jobs resume of a finished job: 106');
like($r->{err}, qr/job_not_resumable/, 'why');

# a job in progress (made so: one schema done, one running, started 10 s
# ago, a live heartbeat): watch prints its progress line with the ETA and
# follows it to its end
$db->do("UPDATE oxmigrate_job SET state = 'running', finished = NULL,"
        . " started = UNIX_TIMESTAMP() * 1000 - 10000,"
        . " heartbeat = UNIX_TIMESTAMP() * 1000 + 3600000 WHERE id = $job;"
        . " UPDATE oxmigrate_job_schema SET state = 'running'"
        . " WHERE job_id = $job AND name = '$s[3]'");
my $bg = cli_start(['jobs', 'watch', $job, '-A', $OxAdmin::USER, '-P', $OxAdmin::PASS],
                  env => { OXMIGRATE_CREDENTIALS => undef });
OxTest::wait_for(sub { (OxTest::_slurp($bg->{out_file}) // '') =~ /running/ }, 10);
my $cmdline = OxTest::_slurp("/proc/$bg->{pid}/cmdline") // '';
like($cmdline, qr/jobs\x00watch\x00$job\x00-A\x00/, 'ps shows the running command');
unlike($cmdline, qr/\Q$OxAdmin::PASS\E/, '... but not the -P password (overwritten)');
$db->do("UPDATE oxmigrate_job_schema SET state = 'done' WHERE job_id = $job"
        . " AND name = '$s[3]'; UPDATE oxmigrate_job SET state = 'failed',"
        . " finished = UNIX_TIMESTAMP() * 1000 WHERE id = $job");
$r = cli_wait($bg);
is($r->{rc}, 111, 'jobs watch follows a running job to its end (failed: 111)');
like($r->{out}, qr/^job $job upgrade running: 1\/2 schemas, 1 failed, 1 left, ETA 1\ds, current \Q$s[3]\E$/m,
     'the progress line with its ETA');
like($r->{out}, qr/^job $job upgrade failed: 2\/2 schemas, 1 failed, 0 left$/m,
     'and the end');
is(scalar(() = $r->{out} =~ /running/g), 1, 'an unchanged line is not repeated');

# a job whose worker died: running with an old heartbeat
$db->do("UPDATE oxmigrate_job SET state = 'running', finished = NULL,"
        . " heartbeat = 1000 WHERE id = $job;"
        . " UPDATE oxmigrate_job_schema SET state = 'running', failed_tasks = '[]',"
        . " message = '' WHERE job_id = $job AND name = '$s[2]'");
$r = cli(['jobs', 'watch', $job]);
is($r->{rc}, 113, 'jobs watch of an interrupted job: 113');
like($r->{err}, qr/oxmigrate jobs resume $job/, 'says how to resume');

OxAdmin::schema_sql($s[2], 'DROP TABLE make_bad_fail');
cli(['forceupdatetask', '-t', 't.Bad', '-n', $s[2]]);
$r = cli(['jobs', 'resume', $job]);
is($r->{rc}, 0, 'jobs resume: 0 once the job is done');
like($r->{out}, qr/^job $job resumed, \d+ schemas remaining$/m, 'resumed');
like($r->{out}, qr/^job $job upgrade done: 2\/2 schemas, 0 failed, 0 left$/m,
     'watched to its end');
is($db->value("SELECT COUNT(*) FROM context_server2db_pool WHERE server_id = 8"
              . " AND db_schema = '$s[2]'"), 2, 'the schema moved');

# ------------------------------------------------------------ runallupdate

OxAdmin::schema_sql($s[1], sprintf($LOCK, 'UNIX_TIMESTAMP() * 1000 + 600000'));
$r = cli(['runallupdate', '-e']);
is($r->{rc}, 111, 'runallupdate -e meeting a conflict: 111');
$l = lines($r->{out});
is($l->[0], 'Attempting to update 4 schemas in total...', 'first line');
like($l->[1], qr/^Processed \d of 4 schemas\.$/, 'Processed N of M schemas.');
ok(!grep({ $_ eq 'Processed 4 of 4 schemas.' } @$l), '-e: stopped before the last schema');
is($l->[-1], "Update conflict detected. Another process is currently updating schema $s[1].",
   'ends with OX\'s conflict line');
$r = cli(['runallupdate']);
is($r->{rc}, 111, 'runallupdate without -e meeting a conflict: 111 (the job failed)');
$l = lines($r->{out});
is_deeply([ @$l[-2, -1] ],
          [ 'Processed 4 of 4 schemas.',
            "Update conflict detected. Another process is currently updating schema $s[1]." ],
          '... but it went on to the last schema (-e stops, see above)');
OxAdmin::schema_sql($s[1], "DELETE FROM updateTask WHERE taskName = 'LOCKED'");

$r = cli(['runallupdate', '-l', $OxAdmin::USER, '-s', $OxAdmin::PASS],
         env => { OXMIGRATE_CREDENTIALS => undef });
is($r->{rc}, 0, 'runallupdate -l -s: 0');
is_deeply([ @{ lines($r->{out}) }[0, -1] ],
          [ 'Attempting to update 4 schemas in total...', 'Processed 4 of 4 schemas.' ],
          'the seed\'s first and last line');
$r = cli(['runallupdate', '--json']);
is($r->{rc}, 0, 'runallupdate --json: 0');
is($r->{json}{state}, 'done', '... prints the finished job');
is_deeply($r->{json}, api(GET => "jobs/$r->{json}{id}")->{json}, '... as GET /jobs/ID');
$r = cli(['runallupdate', '--no-wait', '--json']);
like($r->{json}{job}, qr/^\d+$/, '--no-wait --json: the 202 answer');
my $nw = $r->{json}{job};
OxAdmin::wait_job($ng, $nw);

# ------------------------------------------------------------ pause, continue, cancel

$r = cli(['jobs', 'pause', 999]);
is($r->{rc}, 103, 'jobs pause of an unknown job: 103');
$r = cli(['jobs', 'pause', $nw]);
is($r->{rc}, 106, 'jobs pause of a finished job: 106 (job_not_running)');

# made interrupted with nothing in flight (its worker gone, one schema left):
# a pause takes effect at once
my $interrupt = "UPDATE oxmigrate_job SET state = 'running', finished = NULL,"
              . " heartbeat = 1000 WHERE id = $nw; UPDATE oxmigrate_job_schema"
              . " SET state = 'pending' WHERE job_id = $nw AND name = '$s[3]'";
$db->do($interrupt);
$r = cli(['jobs', 'pause', $nw]);
is($r->{rc}, 0, 'jobs pause: 0');
is($r->{out}, "job $nw paused\n", '... paused at once');
$r = cli(['jobs', 'watch', $nw]);
is($r->{rc}, 114, 'jobs watch of a paused job: 114');
like($r->{err}, qr/go on with: oxmigrate jobs continue $nw/, '... says how to go on');
$r = cli(['jobs', 'continue', $nw]);
is($r->{rc}, 0, 'jobs continue: 0 once the job is done');
like($r->{out}, qr/^job $nw continued, 1 schemas remaining$/m, 'continued');
like($r->{out}, qr/^job $nw updates done: 4\/4 schemas, 0 failed, 0 left$/m, 'watched to its end');

$db->do($interrupt);
cli(['jobs', 'pause', $nw]);
$r = cli(['jobs', 'cancel', $nw, '--json']);
is($r->{rc}, 0, 'jobs cancel of a paused job --json: 0');
is($r->{json}{state}, 'cancelled', '... the API\'s answer: cancelled at once');
$r = cli(['jobs', 'watch', $nw]);
is($r->{rc}, 115, 'jobs watch of a cancelled job: 115');
like($r->{err}, qr/job $nw was cancelled/, '... says so');
$r = cli(['jobs', 'continue', $nw]);
is($r->{rc}, 106, 'jobs continue of a cancelled job: 106');

# ------------------------------------------------------------ a job's API briefly away

# a stand-in API on $port answering GET /jobs/N with the given answers in
# turn, the last one for ever: [status, body]
my @FAKES;
END { kill 'KILL', @FAKES if @FAKES }
sub fake_api {
    my ($port, @answers) = @_;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                    Listen => 16, ReuseAddr => 1) or die "fake: $!";
    my $pid = fork // die;
    if ($pid == 0) {
        my $i = 0;
        while (my $c = $srv->accept) {
            local $/ = "\r\n\r\n";
            my $head = <$c>;
            my ($st, $body) = @{ $answers[$i < $#answers ? $i++ : $#answers] };
            print $c "HTTP/1.1 $st X\r\nContent-Type: application/json\r\n"
                   . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
    push @FAKES, $pid;
    return $pid;
}
my $jobjson = sub {
    my ($state, $processed) = @_;
    return qq({"id":5,"kind":"updates","state":"$state","total":2,"processed":$processed,)
         . qq("failed":0,"current":null,"started":1,"finished":null,"heartbeat":1,)
         . qq("server_id":null,"user":"u","owner":"o","schemas":[]});
};
my $fport = OxTest::free_port();
fake_api($fport, [503, '{"error":{"code":"busy","message":"busy"}}'], [502, '<html>bad gateway</html>'],
         [200, $jobjson->('running', 1)], [200, $jobjson->('done', 2)]);
$r = cli(['jobs', 'watch', 5, '--url', "http://127.0.0.1:$fport/v1"]);
is($r->{rc}, 0, 'watch: a 503 and a 502 in between are asked again, the job ends done: 0');
is(scalar(() = $r->{err} =~ /does not answer, asking again/g), 1, '... said once');
like($r->{out}, qr/^job 5 updates running: 1\/2 schemas.*\njob 5 updates done: 2\/2 schemas, 0 failed, 0 left$/m,
     '... and followed to the end');

$fport = OxTest::free_port();
my $late = cli_start(['jobs', 'watch', 5, '--url', "http://127.0.0.1:$fport/v1"]);
sleep 0.5;
fake_api($fport, [200, $jobjson->('done', 2)]);
$r = cli_wait($late);
is($r->{rc}, 0, 'watch: an API that comes up half a second later is waited for: 0');

$fport = OxTest::free_port();
fake_api($fport, [503, '{"error":{"code":"configdb_unavailable","message":"configdb is down"}}']);
$r = cli(['jobs', 'watch', 5, '--json', '--url', "http://127.0.0.1:$fport/v1"],
         env => { OXMIGRATE_POLL_MS => 10 });
is($r->{rc}, 106, 'watch: an API that stays away: its error after 60 polls (106)');
is($r->{json}{error}{code}, 'configdb_unavailable', '... --json: that one answer, once');

# an admin API from before GET /lookup: 404 not_found
$fport = OxTest::free_port();
fake_api($fport, [404, '{"error":{"code":"not_found","message":"no such endpoint"}}']);
$r = cli(['lookup', 'alice@ctx1.example.com', '--url', "http://127.0.0.1:$fport/v1"]);
is($r->{rc}, 112, 'lookup against an API without it: 112');
like($r->{err}, qr/no lookup endpoint/, 'a clear message');
$r = cli(['lookup', 'alice@ctx1.example.com', '--json', '--url', "http://127.0.0.1:$fport/v1"]);
is($r->{json}{error}{code}, 'unsupported', '--json: a JSON error');
kill 'KILL', @FAKES;

# ------------------------------------------------------------ lookup

# ctx1 lives on oxserver-new (101) since the seed's steps above
$r = cli(['lookup', 'alice@CTX1.Example.COM', '--primary', 'oxserver-old',
          '--secondary', 'oxserver-xyz,oxserver-other']);
is($r->{rc}, 0, 'lookup: 0');
$l = { map { /^([^:]+): (.*)$/ ? ($1 => $2) : () } split /\n/, $r->{out} };
is($l->{login}, 'alice@CTX1.Example.COM', 'login');
is($l->{key}, 'ctx1.example.com', 'the router\'s key (lowered)');
is_deeply([ @$l{qw(found cid schema server_id server enabled)} ],
          [ 'true', 1, $s[0], 101, 'oxserver-new', 'true' ], 'what configdb says');
is_deeply([ @$l{'decision.primary', 'decision.secondary'} ], [ 'redirect', 'ctx0012' ],
          'the decisions of a primary (--primary) and a secondary (--secondary)');
is_deeply([ @$l{'cache.shm', 'cache.redis'} ], [ '-', '-' ],
          'nested fields as dotted keys, null as "-" (no cache tiers in this nginx)');
# without --primary: the hint names the CLI's flag, not the API's parameter
$r = cli(['lookup', 'alice@ctx1.example.com', '--secondary', 'oxserver-xyz']);
like($r->{out}, qr/^decision\.primary: give --primary SERVER\[,SERVER\]$/m,
     'no --primary: "give --primary SERVER[,SERVER]"');
like($r->{out}, qr/^decision\.secondary: ctx0012$/m, '... the secondary\'s decision');
unlike($r->{out}, qr/primary=/, '... not the query parameter primary=');
$r = cli(['lookup', 'alice@ctx1.example.com', '--json']);
is($r->{json}{decision}{secondary}, 'give secondary=SERVER[,SERVER]',
   '--json: the API\'s own answer');
$r = cli(['lookup', 'alice@ctx1.example.com', '--json', '--primary', 'oxserver-new']);
is($r->{json}{decision}{primary}, 'pass', '--json: the API\'s answer (oxserver-new passes)');
is($r->{json}{server_id}, 101, '... with the configdb fields');
$r = cli(['lookup', 'bob@nosuch.example.com']);
is($r->{rc}, 102, 'lookup of an unknown context: 102 (no such context)');
like($r->{out}, qr/^found: false$/m, '... found: false');

# ------------------------------------------------------------ --json is valid everywhere

for my $args (['listserver'], ['listdatabaseschema'], ['checkdatabase'],
              ['listupdatetasknamespaces'], ['listUpdateTasks', '-n', $s[0]],
              ['jobs'], ['jobs', 'show', $job], ['disableschema', '-m', 'nope'],
              ['changeserver', '-s', 8, '-m', 'nope'],
              ['registerserver', '-n', 'oxserver-old'], ['runupdate', '-n', 'nope'],
              ['forceupdatetask', '-t', 'nope'], ['unblockdatabase', '-i', 3],
              ['enableschema', '-m', $s[0]], ['lookup', 'alice@ctx1.example.com']) {
    $r = cli([@$args, '--json']);
    ok(ref $r->{json} eq 'HASH', "@$args --json: one JSON object")
        or diag $r->{out};
    is(scalar(() = $r->{out} =~ /\n/g), 1, "@$args --json: one line");
}

done_testing();
