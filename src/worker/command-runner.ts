/**
 * A job handler that runs a program per job, as `gearman -w -- CMD` does: the workload goes to
 * the program's stdin, its stdout is the result. `gearbox worker -f F -- CMD` registers it; a
 * worker manager can register the same handler for the commands it supervises.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { GearboxError } from '../protocol/errors.js';
import type { WorkerJob } from './worker-job.js';

/** The program a {@link commandHandler} runs for each job. */
export interface CommandOptions {
  /** The program, looked up on PATH like a shell does. */
  readonly command: string;
  readonly args?: readonly string[];
  /** Its environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Its working directory (default: this process's). */
  readonly cwd?: string;
}

/** How a command failed a job. */
export type CommandErrorCode = 'EXIT_STATUS' | 'KILLED';

/** The command exited non-zero or was killed by a signal; the job fails with this message. */
export class CommandError extends GearboxError<CommandErrorCode> {}

/**
 * The handler that runs `options.command` for one job and resolves with its stdout. A non-zero
 * exit or a death by signal fails the job ({@link CommandError}) after sending the output so far
 * as WORK_DATA; the job's signal (its timeout, a worker stop) kills the command. The command's
 * stderr is this process's.
 */
export function commandHandler(options: CommandOptions): (job: WorkerJob) => Promise<Buffer> {
  const { command, args = [], env, cwd } = options;
  return async (job) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
      signal: job.signal,
      ...(env ? { env } : {}),
      ...(cwd ? { cwd } : {}),
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A command that does not read its stdin closes the pipe early; that is not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(job.workload);
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    const [code, signal] = (await Promise.race([once(child, 'close'), spawnError])) as [
      number | null,
      NodeJS.Signals | null,
    ];
    const output = Buffer.concat(chunks);
    if (code === 0) return output;
    if (output.length > 0) job.sendData(output);
    throw signal !== null
      ? new CommandError('KILLED', `${command} was killed by ${signal}`)
      : new CommandError('EXIT_STATUS', `${command} exited with status ${String(code)}`);
  };
}
