/** Our Client driving a Perl Gearman::Worker (libgearman-client-perl). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AdminClient, Client, JobExceptionError, JobFailedError } from '../../src/index.js';
import { eventually, SERVER_KINDS, skipKind } from '../helpers/lib-servers.js';
import { tools } from '../helpers/services.js';

const PERL_WORKER = `use strict; use warnings;
use Gearman::Worker;
my $w = Gearman::Worker->new;
$w->job_servers("127.0.0.1:$ARGV[0]");
$w->register_function(perl_reverse => sub {
  my $job = shift;
  $job->set_status(1, 2);
  return scalar reverse $job->arg;
});
$w->register_function(perl_fail => sub { die "perl died\\n" });
$w->work while 1;
`;

for (const kind of SERVER_KINDS) {
  describe(
    `our Client with a Perl worker on ${kind.name}`,
    { skip: await skipKind(kind, 'perl-gearman') },
    () => {
      it('gets results, status and failures from Gearman::Worker', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'gearbox-perl-'));
        writeFileSync(join(dir, 'worker.pl'), PERL_WORKER);
        const server = await kind.start();
        const servers = `127.0.0.1:${server.port}`;
        const perl = spawn(tools.perl, [join(dir, 'worker.pl'), String(server.port)], {
          stdio: 'ignore',
        });
        const client = new Client({ servers });
        const admin = new AdminClient({ server: servers });
        try {
          await eventually(
            async () =>
              (await admin.status()).find((s) => s.name === 'perl_reverse')?.workers === 1,
            10_000,
            'perl worker registered',
          );
          const job = client.submit('perl_reverse', 'abc\0def', { timeout: 20_000 });
          const statuses: string[] = [];
          job.on('status', (n, d) => statuses.push(`${n}/${d}`));
          assert.deepEqual((await job.result()).data, Buffer.from('fed\0cba'));
          assert.deepEqual(statuses, ['1/2']);

          const big = Buffer.alloc(3 * 1024 * 1024, 'x');
          big[0] = 'a'.charCodeAt(0);
          const reversed = await client.run('perl_reverse', big, { timeout: 60_000 });
          assert.equal(reversed.data.length, big.length);
          assert.equal(reversed.data[reversed.data.length - 1], 'a'.charCodeAt(0));

          // Last: Gearman::Worker sends WORK_FAIL after its WORK_EXCEPTION and then dies on
          // gearmand's JOB_NOT_FOUND answer, which is Perl's problem, not the client's.
          await assert.rejects(client.run('perl_fail', 'x', { timeout: 20_000 }), (e: unknown) => {
            assert.ok(e instanceof JobExceptionError || e instanceof JobFailedError, String(e));
            return true;
          });
        } finally {
          await client.close();
          await admin.close();
          if (perl.exitCode === null && perl.pid !== undefined) process.kill(perl.pid, 'SIGKILL');
          await server.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      });
    },
  );
}
