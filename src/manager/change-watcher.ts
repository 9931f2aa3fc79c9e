/**
 * `watch`: calls back once a burst of changes under the watched paths is over (500 ms without
 * another), with the first changed path. chokidar, not bare fs.watch, because editors save by
 * renaming a new file over the old one and fs.watch on Linux loses a replaced file.
 */
import { watch, type FSWatcher } from 'chokidar';

/** Quiet time after the last change before the callback runs (a save, a checkout). */
export const WATCH_DEBOUNCE_MS = 500;

const IGNORED = /(^|[/\\])(node_modules|\.git)([/\\]|$)/;

export class ChangeWatcher {
  private readonly watcher: FSWatcher;
  private timer: NodeJS.Timeout | undefined;
  private first: string | undefined;
  /** Resolves once the initial scan is done and changes are being seen. */
  readonly ready: Promise<void>;

  constructor(
    readonly paths: readonly string[],
    onChange: (path: string) => void,
    onError: (error: Error) => void,
    debounceMs = WATCH_DEBOUNCE_MS,
  ) {
    this.watcher = watch([...paths], { ignoreInitial: true, ignored: (p) => IGNORED.test(p) });
    this.ready = new Promise((resolve) => this.watcher.once('ready', () => resolve()));
    this.watcher.on('all', (_event, path) => {
      this.first ??= path;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        const changed = this.first ?? path;
        this.first = undefined;
        onChange(changed);
      }, debounceMs);
    });
    this.watcher.on('error', (err) => onError(err instanceof Error ? err : new Error(String(err))));
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher.close();
  }
}
