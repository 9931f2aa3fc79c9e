import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { Agent, runPhase } from '../../bench/lib/agent-pool.js';
import { startGearmand } from '../helpers/processes.js';
import { skipUnless } from '../helpers/services.js';

/** Sends admin lines and resolves once `expectedReplies` lines have come back. */
function admin(port: number, lines: string[], expectedReplies: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no reply to ${lines.join(' / ')}`));
    });
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.split('\n').length > expectedReplies) {
        socket.destroy();
        resolve(reply);
      }
    });
    socket.write(lines.map((l) => `${l}\r\n`).join(''));
  });
}

const gearmandMissing = await skipUnless('bench agent pool', 'gearmand');

describe('bench agent pool against gearmand', { skip: gearmandMissing }, () => {
  const agents: Agent[] = [];
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
  });

  it('a submitter refused by the server ends the whole phase, workers included', async () => {
    const server = await startGearmand();
    try {
      const functionName = `bench-full-${process.pid}`;
      assert.equal(
        await admin(
          server.port,
          [`create function ${functionName}`, `maxqueue ${functionName} 3`],
          2,
        ),
        'OK\r\nOK\r\n',
      );
      const workers = new Agent('workers');
      const clients = new Agent('clients');
      agents.push(workers, clients);
      const phaseTimeoutMs = 60_000;
      const started = Date.now();
      await assert.rejects(
        runPhase(
          [
            [
              workers,
              [
                {
                  kind: 'workers',
                  port: server.port,
                  functionName,
                  count: 1,
                  target: 1_000,
                  resultBytes: 0,
                },
              ],
            ],
            [
              clients,
              [
                {
                  kind: 'bg-submit',
                  port: server.port,
                  functionName,
                  connections: 1,
                  jobsPerConnection: 1_000,
                  payloadBytes: 10,
                  window: 200,
                  uniques: 'distinct',
                },
              ],
            ],
          ],
          phaseTimeoutMs,
        ),
        // The submitter's own failure is reported, not the workers' abort.
        /agent clients: submitter got ERROR: QUEUE_ERROR/,
      );
      // Without the abort the worker agent would wait for its 1,000 jobs until the timeout.
      assert.ok(Date.now() - started < phaseTimeoutMs / 2);
    } finally {
      await server.stop();
    }
  });
});
