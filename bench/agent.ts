/**
 * A load-generator process. The benchmark's parent forks it, sends `setup` with its tasks, waits
 * for `ready` (every connection open, every worker asleep), sends `go`, and receives `done` with
 * each task's counts and times. The process serves phase after phase until told to `exit`.
 */
import { prepareBackgroundSubmit } from './lib/background-submitter.js';
import { BenchError } from './lib/bench-error.js';
import { prepareForegroundClients } from './lib/foreground-clients.js';
import { prepareIdleConnections } from './lib/idle-connections.js';
import { prepareLibraryClients, prepareLibraryWorker } from './lib/library-load.js';
import {
  ABORT_MESSAGE,
  type AgentCommand,
  type AgentReply,
  type PreparedTask,
  type Task,
} from './lib/tasks.js';
import { prepareWorkerGroup } from './lib/worker-group.js';

function prepare(task: Task): Promise<PreparedTask> {
  switch (task.kind) {
    case 'bg-submit':
      return prepareBackgroundSubmit(task);
    case 'workers':
      return prepareWorkerGroup(task);
    case 'fg-clients':
      return prepareForegroundClients(task);
    case 'lib-worker':
      return prepareLibraryWorker(task);
    case 'lib-clients':
      return prepareLibraryClients(task);
    case 'idle':
      return prepareIdleConnections(task);
  }
}

function reply(message: AgentReply): void {
  process.send?.(message);
}

let prepared: PreparedTask[] = [];
let timeoutMs = 0;
/** Ends the running phase early when the parent says another agent has failed. */
let abortPhase: ((err: Error) => void) | undefined;

function closeAll(): void {
  for (const task of prepared) task.close();
  prepared = [];
}

async function handle(command: AgentCommand): Promise<void> {
  switch (command.kind) {
    case 'setup':
      closeAll();
      timeoutMs = command.timeoutMs;
      prepared = await Promise.all(command.tasks.map(prepare));
      reply({ kind: 'ready' });
      return;
    case 'go': {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        abortPhase = reject;
        timer = setTimeout(
          () => reject(new BenchError('TIMEOUT', `load did not finish within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        const results = await Promise.race([Promise.all(prepared.map((t) => t.start())), timeout]);
        reply({ kind: 'done', results });
      } finally {
        clearTimeout(timer);
        abortPhase = undefined;
        closeAll();
      }
      return;
    }
    case 'abort':
      abortPhase?.(new BenchError('AGENT_FAILED', ABORT_MESSAGE));
      return;
    case 'exit':
      closeAll();
      process.disconnect?.();
      return;
  }
}

process.on('message', (message: AgentCommand) => {
  handle(message).catch((err: unknown) => {
    closeAll();
    reply({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  });
});
