/** Perl programs (Gearman::Client / Gearman::Worker 2.x) used by the interop tests. */

/**
 * A worker: `rev_*` reverses, `progress_*` reports 1/2 then completes, `fail_*` fails, and
 * `slow_*` records `TAG:arg` in DIR/runs and — for tag A only — hangs for a minute, so a test
 * can kill it mid-job. Arguments: PORT SUFFIX DIR TAG.
 */
export const PERL_WORKER = String.raw`
use strict; use warnings;
use Gearman::Worker;
my ($port, $suffix, $dir, $tag) = @ARGV;
my $w = Gearman::Worker->new(job_servers => ["127.0.0.1:$port"]);
$w->register_function("rev_$suffix" => sub { my $job = shift; return scalar reverse $job->arg; });
$w->register_function("progress_$suffix" => sub {
  my $job = shift; $job->set_status(1, 2); select(undef, undef, undef, 0.3); return "p:" . $job->arg;
});
$w->register_function("fail_$suffix" => sub { return undef; });
$w->register_function("slow_$suffix" => sub {
  my $job = shift;
  open(my $fh, '>>', "$dir/runs") or die "runs: $!"; print $fh "$tag:" . $job->arg . "\n"; close $fh;
  sleep 60 if $tag eq 'A';
  return "$tag:" . $job->arg;
});
my $deadline = time + 120;
$w->work(stop_if => sub { time > $deadline });
`;

/** A client exercising do_task, dispatch_background, get_status and a task set. PORT SUFFIX. */
export const PERL_CLIENT = String.raw`
use strict; use warnings;
use Gearman::Client;
my ($port, $suffix) = @ARGV;
my $c = Gearman::Client->new(job_servers => ["127.0.0.1:$port"]);
my %out;
my $r = $c->do_task("rev_$suffix", "a\0b\xff\x00z");
$out{rev} = defined $r ? unpack('H*', $$r) : 'undef';
my $h = $c->dispatch_background("nobody_$suffix", "w", { uniq => "u-$suffix" });
$out{handle} = $h // 'undef';
my $st = $c->get_status($h);
$out{queued} = join(',', $st->known ? 1 : 0, $st->running ? 1 : 0);
my $again = $c->dispatch_background("nobody_$suffix", "w", { uniq => "u-$suffix" });
$out{coalesced} = (defined $again && $again eq $h) ? 1 : 0;
my @events;
my $ts = $c->new_task_set;
$ts->add_task("progress_$suffix", "x", {
  on_status => sub { push @events, "status:$_[0]/$_[1]" },
  on_complete => sub { my $ref = shift; push @events, "complete:$$ref" },
});
$ts->add_task("fail_$suffix", "y", {
  on_fail => sub { push @events, "fail" },
  on_complete => sub { push @events, "unexpected-complete" },
});
$ts->wait(timeout => 15);
$out{events} = join('|', sort @events);
print join("\n", map { "$_=$out{$_}" } sort keys %out), "\n";
`;

/** Submits one foreground `slow_*` job and prints its result. PORT SUFFIX ARG. */
export const PERL_SLOW_CLIENT = String.raw`
use strict; use warnings;
use Gearman::Client;
my ($port, $suffix, $arg) = @ARGV;
my $c = Gearman::Client->new(job_servers => ["127.0.0.1:$port"]);
my $r = $c->do_task("slow_$suffix", $arg, { timeout => 60 });
print defined $r ? "result=$$r\n" : "result=undef\n";
`;

/**
 * A worker on one or more servers: `quick_*` answers its TAG; `long_*` appends `TAG:start` and,
 * after SECONDS, `TAG:end` to DIR/runs. Arguments: TAG DIR SUFFIX SECONDS PORT [PORT...].
 */
export const PERL_WAKE_WORKER = String.raw`
use strict; use warnings;
use Gearman::Worker;
my ($tag, $dir, $suffix, $seconds, @ports) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [map { "127.0.0.1:$_" } @ports]);
my $note = sub { open(my $fh, '>>', "$dir/runs") or die "runs: $!"; print $fh "$_[0]\n"; close $fh; };
$w->register_function("quick_$suffix" => sub { return $tag; });
$w->register_function("long_$suffix" => sub {
  $note->("$tag:start"); sleep $seconds; $note->("$tag:end"); return "$tag:done";
});
my $deadline = time + 90;
$w->work(stop_if => sub { time > $deadline });
`;
