import { GENERATED_KEY_PREFIX, isGeneratedKey, type StoredJob } from '../../protocol/stored-job.js';
import { textToByteString } from './byte-strings.js';

/**
 * Where generated keys come from: returns, once per core, a short string (1–16 characters of
 * `0-9a-z`) that no earlier run of the server returned — random in production, fixed in tests.
 */
export type RunIdSource = () => string;

/** After the prefix, the keys of `-` jobs (coalesced on their payload) carry this. */
const DASH_MARKER = `${GENERATED_KEY_PREFIX}-:`;

/**
 * The store keys of durable jobs. A job with a unique id is stored under it; a row needs a
 * distinct non-empty key, so a job submitted with an empty unique (or `-`) is stored under a
 * generated one: `gearbox-gen:` (the stored-job contract's mark), `-:` for a `-` job, then this
 * run's part and a counter, e.g. `gearbox-gen:-:mk2x9c1s.4fzq.17` — under 60 characters, so it
 * fits gearmand's VARCHAR(64). Handle numbers restart at 1 on every run, so the run part (the
 * start time and the injected run id) keeps keys distinct from the rows an earlier run left.
 */
export class StoreKeys {
  private readonly run: string;
  private next = 1;

  constructor(startedAt: number, runId: RunIdSource) {
    const id = runId();
    if (!/^[0-9a-z]{1,16}$/.test(id)) {
      throw new TypeError(`run id ${JSON.stringify(id)}: expected 1–16 characters of 0-9a-z`);
    }
    this.run = `${Math.max(0, Math.floor(startedAt)).toString(36)}.${id}.`;
  }

  /** Whether a job with this unique (a byte string) is stored under a generated key. */
  static generated(unique: string): boolean {
    return unique === '' || unique === '-';
  }

  /** A fresh key for a job whose unique is empty, or `-` when `dash`. */
  generate(dash: boolean): string {
    return `${dash ? DASH_MARKER : GENERATED_KEY_PREFIX}${this.run}${this.next++}`;
  }

  /**
   * The unique (a byte string) of a replayed job: its key, or for a generated key the empty
   * unique or `-` it stood for. A generated key is recognised whether or not the store said so.
   */
  static uniqueOf(stored: StoredJob): string {
    const key = stored.uniqueKey;
    if (!stored.generatedKey && !isGeneratedKey(key)) return textToByteString(key);
    return key.startsWith(DASH_MARKER) ? '-' : '';
  }
}
