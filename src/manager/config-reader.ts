/**
 * Reading one object of a config file with paths in every complaint: each accessor checks one
 * key's type and range, and a problem is recorded as `workers[2].count: must be …` instead of
 * thrown, so that one run reports every mistake in the file at once.
 */
import { constants } from 'node:os';

/** The problems found so far, shared by every reader of one file. */
export type Problems = string[];

/** One object of the config, at `path` (e.g. `workers[2]`), with the keys it may have. */
export class ConfigReader {
  private readonly object: Record<string, unknown>;

  constructor(
    value: unknown,
    readonly path: string,
    private readonly problems: Problems,
    allowed: readonly string[],
  ) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.report('', 'must be a mapping of keys to values');
      this.object = {};
      return;
    }
    this.object = value as Record<string, unknown>;
    for (const key of Object.keys(this.object))
      if (!allowed.includes(key))
        this.report(key, `unknown key (allowed here: ${allowed.join(', ')})`);
  }

  /** Records a problem with `key` ('' for the object itself). */
  report(key: string, message: string): void {
    const where = key === '' ? this.path : this.path === '' ? key : `${this.path}.${key}`;
    this.problems.push(`${where || '(top level)'}: ${message}`);
  }

  /** Whether the key is present (and not null). */
  has(key: string): boolean {
    return this.object[key] !== undefined && this.object[key] !== null;
  }

  raw(key: string): unknown {
    return this.object[key];
  }

  /** A reader for the mapping under `key`, reporting into the same list. */
  child(key: string, allowed: readonly string[]): ConfigReader {
    return new ConfigReader(this.object[key], this.at(key), this.problems, allowed);
  }

  private at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  string(key: string): string | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '') {
      this.report(key, 'must be a non-empty string');
      return undefined;
    }
    return value;
  }

  boolean(key: string): boolean | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.report(key, 'must be true or false');
      return undefined;
    }
    return value;
  }

  /** A whole number ≥ `min` (and ≤ `max`). */
  wholeNumber(key: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.report(
        key,
        max === Number.MAX_SAFE_INTEGER
          ? `must be a whole number ≥ ${min}`
          : `must be a whole number from ${min} to ${max}`,
      );
      return undefined;
    }
    return value;
  }

  /** A duration in seconds (fractions allowed), returned in ms; `positive` refuses 0. */
  seconds(key: string, positive = false): number | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && !value)) {
      this.report(key, `must be a number of seconds${positive ? ' > 0' : ' ≥ 0'}`);
      return undefined;
    }
    return Math.round(value * 1000);
  }

  /** A number > 0. */
  positiveNumber(key: string): number | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.report(key, 'must be a number > 0');
      return undefined;
    }
    return value;
  }

  /** A non-empty list of non-empty strings (`what` says what they are, for the message). */
  stringList(key: string, what = 'strings'): string[] | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      value.some((v) => typeof v !== 'string' || v === '')
    ) {
      this.report(key, `must be a non-empty list of ${what}`);
      return undefined;
    }
    return value as string[];
  }

  /** A mapping of environment variable names to strings (numbers and booleans are written out). */
  environment(key: string): Record<string, string> | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.report(key, 'must be a mapping of variable names to values');
      return undefined;
    }
    const env: Record<string, string> = {};
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        this.report(`${key}.${name}`, 'is not a valid environment variable name');
      } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        env[name] = String(v);
      } else {
        this.report(`${key}.${name}`, 'must be a string, number or boolean');
      }
    }
    return env;
  }

  /** A signal name, with or without `SIG` (`TERM`, `SIGQUIT`), returned as `SIGTERM`. */
  signal(key: string): NodeJS.Signals | undefined {
    const value = this.object[key];
    if (value === undefined || value === null) return undefined;
    const name = typeof value === 'string' ? value.toUpperCase() : '';
    const full = name.startsWith('SIG') ? name : `SIG${name}`;
    if (!(full in constants.signals)) {
      this.report(key, 'must be a signal name such as SIGTERM, SIGINT or SIGQUIT');
      return undefined;
    }
    return full as NodeJS.Signals;
  }
}
