/** The IPC messages between the manager and a module runner (one of its child processes). */

/** Runner → manager. */
export type RunnerMessage =
  /** Registered its functions and connected (or is still trying to) to the servers. */
  | { readonly type: 'ready'; readonly functions: readonly string[] }
  | { readonly type: 'job-start'; readonly handle: string; readonly function: string }
  | { readonly type: 'job-end'; readonly handle: string; readonly ok: boolean }
  /** Leaving on purpose (max_jobs reached): not a crash, restart at once. */
  | { readonly type: 'retiring'; readonly reason: string };

/** Manager → runner: stop taking jobs, let the running ones finish within `timeoutMs`, exit. */
export type ManagerMessage = { readonly type: 'stop'; readonly timeoutMs: number };

/** Whether an IPC message is one a runner sends (anything else is ignored). */
export function isRunnerMessage(value: unknown): value is RunnerMessage {
  if (value === null || typeof value !== 'object') return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'job-start' || type === 'job-end' || type === 'retiring';
}
