/** The fields of a SUBMIT_JOB_SCHED packet; `undefined` = any value. */
export interface ScheduleFields {
  /** 0–59 */
  readonly minute: number | undefined;
  /** 0–23 */
  readonly hour: number | undefined;
  /** 1–31 */
  readonly dayOfMonth: number | undefined;
  /** 1–12 */
  readonly month: number | undefined;
  /** 0–6 with 0 = Monday, as the Gearman protocol text defines it. */
  readonly weekday: number | undefined;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

function inRange(value: number | undefined, low: number, high: number): boolean {
  return value === undefined || (Number.isInteger(value) && value >= low && value <= high);
}

/**
 * The first whole minute at or after `now` (ms, UTC) that matches every given field, searching
 * at most `horizonDays` days ahead; `undefined` when a field is out of range or nothing matches
 * (such as 31 February). All fields must match together (no cron-style day-of-month OR weekday).
 */
export function nextScheduledTime(
  now: number,
  fields: ScheduleFields,
  horizonDays: number,
): number | undefined {
  const { minute, hour, dayOfMonth, month, weekday } = fields;
  if (
    !inRange(minute, 0, 59) ||
    !inRange(hour, 0, 23) ||
    !inRange(dayOfMonth, 1, 31) ||
    !inRange(month, 1, 12) ||
    !inRange(weekday, 0, 6)
  ) {
    return undefined;
  }
  const start = Math.ceil(now / MINUTE) * MINUTE;
  const firstDay = Math.floor(start / DAY) * DAY;
  for (let d = 0; d <= horizonDays; d++) {
    const dayStart = firstDay + d * DAY;
    const date = new Date(dayStart);
    if (month !== undefined && date.getUTCMonth() + 1 !== month) continue;
    if (dayOfMonth !== undefined && date.getUTCDate() !== dayOfMonth) continue;
    if (weekday !== undefined && (date.getUTCDay() + 6) % 7 !== weekday) continue;
    for (let h = hour ?? 0; h <= (hour ?? 23); h++) {
      for (let m = minute ?? 0; m <= (minute ?? 59); m++) {
        const at = dayStart + h * 3_600_000 + m * MINUTE;
        if (at >= start) return at;
      }
    }
  }
  return undefined;
}
