/**
 * The parent's side of the load-generator processes: forks them, runs phases across them, and
 * stops them by PID.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BenchError } from './bench-error.js';
import { trackChild } from './children.js';
import { withFdLimit } from './fd-limits.js';
import {
  ABORT_MESSAGE,
  type AgentCommand,
  type AgentReply,
  type Task,
  type TaskResult,
} from './tasks.js';

const agentScript = fileURLToPath(new URL('../agent.js', import.meta.url));

/** One forked load-generator process. */
export class Agent {
  private readonly child: ChildProcess;
  private waiting: { resolve: (r: AgentReply) => void; reject: (e: Error) => void } | undefined;

  /**
   * Forks the agent; with `fdLimit` it starts through `sh` with its soft limit of open files
   * raised to that (for thousands of connections), the IPC channel passed through the `exec`.
   */
  constructor(
    readonly name: string,
    fdLimit?: number,
  ) {
    const stdio = ['ignore', 'inherit', 'inherit', 'ipc'] as const;
    if (fdLimit === undefined) this.child = fork(agentScript, [], { stdio: [...stdio] });
    else {
      const command = withFdLimit(fdLimit, process.execPath, [agentScript]);
      this.child = spawn(command.file, command.args, { stdio: [...stdio] });
    }
    trackChild(this.child);
    this.child.on('message', (message: AgentReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.resolve(message);
    });
    this.child.on('exit', (code, signal) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(
        new BenchError('AGENT_FAILED', `agent ${name} exited (${code ?? signal ?? 'unknown'})`),
      );
    });
  }

  /** Sends a command and waits for the agent's one reply to it. */
  ask(command: AgentCommand, timeoutMs: number): Promise<AgentReply> {
    return new Promise<AgentReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(
          new BenchError('TIMEOUT', `agent ${this.name} did not answer within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.waiting = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.send(command);
    });
  }

  /** Tells the agent to end its running phase; its pending `go` is then answered with an error. */
  abort(): void {
    if (this.child.connected) this.child.send({ kind: 'abort' } satisfies AgentCommand);
  }

  /** Asks the agent to leave, then stops it by PID if it has not gone within a second. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ kind: 'exit' } satisfies AgentCommand);
    const timer = setTimeout(() => {
      if (this.child.pid !== undefined && this.child.exitCode === null)
        process.kill(this.child.pid, 'SIGKILL');
    }, 1000);
    await exited;
    clearTimeout(timer);
  }
}

function expect<K extends AgentReply['kind']>(
  agent: Agent,
  reply: AgentReply,
  kind: K,
): Extract<AgentReply, { kind: K }> {
  if (reply.kind === 'error')
    throw new BenchError('AGENT_FAILED', `agent ${agent.name}: ${reply.message}`);
  if (reply.kind !== kind)
    throw new BenchError('AGENT_FAILED', `agent ${agent.name} answered ${reply.kind}, not ${kind}`);
  return reply as Extract<AgentReply, { kind: K }>;
}

function rank(reply: AgentReply): number {
  if (reply.kind !== 'error') return 2;
  return reply.message === ABORT_MESSAGE ? 1 : 0;
}

/** Some agents and the tasks each runs in one phase. */
export type PhasePlan = ReadonlyArray<readonly [Agent, readonly Task[]]>;

/**
 * Runs one phase: every agent connects its tasks, then all start at once; resolves with each
 * agent's results, in plan order. `onReady` runs once every agent is ready and before any is
 * told to go (to read the server's CPU time and memory with every connection open).
 */
export async function runPhase(
  plan: PhasePlan,
  timeoutMs: number,
  onReady?: () => Promise<void>,
): Promise<TaskResult[][]> {
  // Thousands of connections (the scaling figures) take a while to open on a busy machine.
  const setupTimeout = Math.max(30_000, timeoutMs);
  const ready = await Promise.all(
    plan.map(([agent, tasks]) => agent.ask({ kind: 'setup', tasks, timeoutMs }, setupTimeout)),
  );
  plan.forEach(([agent], i) => expect(agent, ready[i] as AgentReply, 'ready'));
  await onReady?.();
  // One agent failing (a server ERROR, a lost connection) would leave the others waiting for
  // jobs that never come, so the first failure aborts the rest.
  const done = await Promise.all(
    plan.map(async ([agent]) => {
      const reply = await agent.ask({ kind: 'go' }, timeoutMs + 5_000).catch((err: unknown) => {
        for (const [other] of plan) if (other !== agent) other.abort();
        throw err;
      });
      if (reply.kind === 'error') for (const [other] of plan) if (other !== agent) other.abort();
      return reply;
    }),
  );
  // Report the agent that failed first-hand, not one that was aborted because of it.
  const order = plan
    .map((entry, i) => ({ entry, reply: done[i] as AgentReply }))
    .sort((a, b) => rank(a.reply) - rank(b.reply));
  for (const { entry, reply } of order) expect(entry[0], reply, 'done');
  return plan.map(([agent], i) => expect(agent, done[i] as AgentReply, 'done').results);
}
