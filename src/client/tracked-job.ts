import type { Job, JobControl } from './job.js';
import type { ServerLink } from './server-link.js';

/**
 * A foreground job as the client follows it: the public {@link Job}, the handle through which
 * it is settled, and where it stands on its server (sent, created under a handle, or neither).
 */
export class TrackedJob {
  /** The server it was sent to, once sent. */
  link: ServerLink | undefined = undefined;
  /** Its handle, once the server answered JOB_CREATED. */
  handle: string | undefined = undefined;
  /** Whether it takes one of its server's in-flight slots. */
  inFlight = false;
  /** Disarms its timeout and abort signal. */
  disposeDeadline: () => void = () => undefined;

  constructor(
    readonly job: Job,
    readonly control: JobControl,
    readonly functionName: string,
  ) {}

  /** Settles the job (with its result bytes or an error) and lets go of it everywhere. */
  finish(outcome: Buffer | Error): void {
    if (this.job.done) return;
    this.disposeDeadline();
    this.link?.release(this);
    if (outcome instanceof Error) this.control.fail(outcome);
    else this.control.complete(outcome);
  }
}
