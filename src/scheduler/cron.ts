import { SchedulerError } from './errors.js';

/*
 * A five-field cron expression: minute hour day-of-month month day-of-week.
 *
 * Each field is `*`, a number, a name (jan–dec, sun–sat), a range `a-b`, a step `*\/n`, `a-b/n`
 * or `a/n`, or a comma-separated list of these. Day-of-week 0 and 7 are Sunday. As in Vixie
 * cron, when both day fields are restricted a day matches if either matches. The macros
 * `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly` are accepted.
 *
 * Times are matched on the wall clock of an IANA time zone (via Intl). Across a daylight-saving
 * change a wall-clock minute that does not exist is skipped, and one that happens twice fires
 * once, at its first occurrence.
 */

const MONTH_NAMES = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** The value the first name stands for (jan = 1, sun = 0). */
  readonly nameBase?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
];

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** How far ahead `next` looks before it decides an expression never fires (e.g. 30 February). */
const SEARCH_YEARS = 8;

function fail(expression: string, why: string): never {
  throw new SchedulerError('INVALID_CRON', `invalid cron expression '${expression}': ${why}`);
}

function parseValue(text: string, spec: FieldSpec, expression: string): number {
  const lower = text.toLowerCase();
  if (spec.names) {
    const index = spec.names.indexOf(lower);
    if (index >= 0) return index + (spec.nameBase ?? 0);
  }
  if (!/^\d{1,2}$/.test(text)) fail(expression, `'${text}' is not a valid ${spec.name}`);
  const value = Number(text);
  if (value < spec.min || value > spec.max)
    fail(expression, `${spec.name} ${value} is outside ${spec.min}-${spec.max}`);
  return value;
}

function parseField(text: string, spec: FieldSpec, expression: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') fail(expression, `empty list item in the ${spec.name} field`);
    const [rangeText, stepText, extra] = part.split('/');
    if (extra !== undefined || rangeText === undefined)
      fail(expression, `'${part}' has more than one '/'`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) === 0)
        fail(expression, `step '${stepText}' must be a positive number`);
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (rangeText === '*') {
      low = spec.min;
      high = spec.name === 'day of week' ? 6 : spec.max;
    } else if (rangeText.includes('-')) {
      const [a, b, more] = rangeText.split('-');
      if (a === undefined || b === undefined || more !== undefined)
        fail(expression, `'${rangeText}' is not a range`);
      low = parseValue(a, spec, expression);
      high = parseValue(b, spec, expression);
      if (high < low) fail(expression, `range '${rangeText}' runs backwards`);
    } else {
      low = parseValue(rangeText, spec, expression);
      // `5/15` means "from 5 to the end, every 15", as in Vixie cron.
      high = stepText === undefined ? low : spec.max;
    }
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}

/** Wall-clock fields of an instant in one time zone. */
interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
      });
    } catch (cause) {
      throw new SchedulerError('INVALID_TIMEZONE', `unknown time zone '${timeZone}'`, { cause });
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws `INVALID_TIMEZONE` unless Intl knows the zone. */
export function assertTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

/** The wall clock of `instant` in `timeZone`, as milliseconds of a naive UTC date. */
function wallClockOf(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instant)))
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
  );
}

function fieldsOf(naive: number): WallClock & { weekday: number } {
  const d = new Date(naive);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    weekday: d.getUTCDay(),
  };
}

/** A parsed cron expression; `next` finds its fire times. */
export class CronExpression {
  private readonly minutes: Set<number>;
  private readonly hours: Set<number>;
  private readonly daysOfMonth: Set<number>;
  private readonly months: Set<number>;
  private readonly daysOfWeek: Set<number>;
  private readonly domRestricted: boolean;
  private readonly dowRestricted: boolean;

  /** Parses `expression`; throws `SchedulerError('INVALID_CRON')` with the reason. */
  constructor(readonly expression: string) {
    const text = MACROS[expression.trim().toLowerCase()] ?? expression.trim();
    const fields = text.split(/\s+/);
    if (fields.length !== 5)
      fail(expression, `expected 5 fields (minute hour day month weekday), got ${fields.length}`);
    const sets = fields.map((field, i) => parseField(field, FIELDS[i] as FieldSpec, expression));
    const [minutes, hours, dom, months, dow] = sets as [
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
    ];
    if (dow.has(7)) dow.add(0);
    this.minutes = minutes;
    this.hours = hours;
    this.daysOfMonth = dom;
    this.months = months;
    this.daysOfWeek = dow;
    this.domRestricted = !(fields[2] ?? '*').startsWith('*');
    this.dowRestricted = !(fields[4] ?? '*').startsWith('*');
  }

  private dayMatches(day: number, weekday: number): boolean {
    const domOk = this.daysOfMonth.has(day);
    const dowOk = this.daysOfWeek.has(weekday);
    if (this.domRestricted && this.dowRestricted) return domOk || dowOk;
    return domOk && dowOk;
  }

  /** The first matching wall-clock minute strictly after `naive` (both naive UTC ms), or null. */
  private nextWallClock(naive: number): number | null {
    let t = Math.floor(naive / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const limit = t + SEARCH_YEARS * 366 * DAY_MS;
    // Each step jumps to the start of the next month, day, hour or minute, so the loop runs a
    // few thousand times at most even for sparse expressions.
    for (let steps = 0; t < limit && steps < 200_000; steps++) {
      const f = fieldsOf(t);
      if (!this.months.has(f.month)) {
        t = Date.UTC(f.year, f.month, 1);
      } else if (!this.dayMatches(f.day, f.weekday)) {
        t = Date.UTC(f.year, f.month - 1, f.day + 1);
      } else if (!this.hours.has(f.hour)) {
        t = Date.UTC(f.year, f.month - 1, f.day, f.hour + 1);
      } else if (!this.minutes.has(f.minute)) {
        t += MINUTE_MS;
      } else {
        return t;
      }
    }
    return null;
  }

  /**
   * The first fire time strictly after the instant `after` (Unix ms), on the wall clock of
   * `timeZone` (default UTC); null when the expression never fires (e.g. `0 0 30 2 *`).
   */
  next(after: number, timeZone = 'UTC'): number | null {
    let wall = wallClockOf(after, timeZone);
    for (let tries = 0; tries < 1000; tries++) {
      const candidate = this.nextWallClock(wall);
      if (candidate === null) return null;
      // The instants whose wall clock reads `candidate`: none in a spring-forward gap, two in a
      // fall-back overlap. The offsets a day either side cover both.
      const offsets = new Set([
        wallClockOf(candidate - DAY_MS, timeZone) - (candidate - DAY_MS),
        wallClockOf(candidate + DAY_MS, timeZone) - (candidate + DAY_MS),
      ]);
      const instants = [...offsets]
        .map((offset) => candidate - offset)
        .filter((instant) => instant > after && wallClockOf(instant, timeZone) === candidate)
        .sort((a, b) => a - b);
      if (instants[0] !== undefined) return instants[0];
      wall = candidate;
    }
    return null;
  }
}
