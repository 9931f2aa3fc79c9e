/**
 * `gearbox server -P FILE`: the pid file a service manager or a script reads. It is checked
 * before the server opens its store (a live server's file refuses the start: two servers on
 * one queue would both replay it), written once the server listens (so its existence means
 * "ready"), and removed at exit — only while it still holds this process's pid, so that a
 * successor's file is never deleted. A file left by a process that is gone is replaced.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { GearboxError } from '../protocol/errors.js';

/** Why a pid file cannot be used. */
export type PidFileErrorCode = 'PID_FILE_IN_USE' | 'PID_FILE_UNWRITABLE';

/** The pid file names a running process, or cannot be written. */
export class PidFileError extends GearboxError<PidFileErrorCode> {}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid the file holds; undefined when there is no file or no pid in it. */
function readPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PidFileError('PID_FILE_UNWRITABLE', `-P ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** A pid file this process means to own. */
export class PidFile {
  private written = false;
  /** The pid of a process that is gone, when the file named one at the check. */
  stalePid: number | undefined;

  private constructor(readonly path: string) {}

  /**
   * Checks `path` before the server starts. Throws a {@link PidFileError} when it names a
   * running process other than this one; a file of a dead process is left to be replaced.
   */
  static check(path: string): PidFile {
    const file = new PidFile(path);
    file.stalePid = file.refuseIfLive();
    return file;
  }

  /** Writes this process's pid (checked again: another server may have started meanwhile). */
  write(): void {
    this.refuseIfLive();
    try {
      writeFileSync(this.path, `${process.pid}\n`);
    } catch (err) {
      throw new PidFileError(
        'PID_FILE_UNWRITABLE',
        `cannot write pid file ${this.path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.written = true;
  }

  /** Removes the file if this process wrote it and it still holds this pid. */
  remove(): void {
    if (!this.written) return;
    this.written = false;
    try {
      if (readPid(this.path) === process.pid) unlinkSync(this.path);
    } catch {
      // gone already, or unreadable: nothing of ours to remove
    }
  }

  /** Throws when the file names another live process; returns the pid it names otherwise. */
  private refuseIfLive(): number | undefined {
    const pid = readPid(this.path);
    if (pid !== undefined && pid !== process.pid && isRunning(pid))
      throw new PidFileError(
        'PID_FILE_IN_USE',
        `-P ${this.path}: process ${pid} is running (another gearbox server?); stop it, or remove the file if it is not a server`,
      );
    return pid;
  }
}
