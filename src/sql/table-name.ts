/**
 * A table name that is safe to splice into SQL: no database lets a table name be a statement
 * parameter, so only plain identifiers are accepted — gearmand's own defaults (`gearman_queue`,
 * `queue`) and the scheduler's (`gearbox_scheduled_jobs`) are such names. A `TypeError` otherwise.
 */
export function checkTableName(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
    throw new TypeError(
      `invalid table name ${JSON.stringify(table)}: use letters, digits and '_' (at most 63), not starting with a digit`,
    );
  }
  return table;
}
