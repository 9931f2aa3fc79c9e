import { placeholderList } from './dialect.js';

/** A row held under a lease: its primary key and the fencing token of the claim that holds it. */
export interface FencedRow {
  readonly id: number;
  readonly token: number;
}

/** The columns of a leased table that fencing reads. */
export interface FenceColumns {
  /** The primary key. */
  readonly id: string;
  /** The token, raised by every claim, so that a late owner's write matches no row. */
  readonly token: string;
}

/**
 * A WHERE condition (and its parameters) that matches exactly the rows still held by these
 * claims: a write made with it by an owner whose lease was taken over changes nothing.
 *
 * Rows are grouped by token — `token = ? AND id IN (…)` per token, of which a batch has one or a
 * few. An `(id = ? AND token = ?) OR …` term per row cost every row the whole list (k² for a batch
 * of k) and three parameters per row to format and parse. Every form keeps an `id IN` list, so
 * every database goes by the primary key (a scan would lock rows that other transactions are
 * claiming, and invite deadlocks on InnoDB).
 */
export function fencedRows(
  rows: readonly FencedRow[],
  columns: FenceColumns,
): { sql: string; params: number[] } {
  const byToken = new Map<number, number[]>();
  for (const row of rows) {
    const ids = byToken.get(row.token);
    if (ids) ids.push(row.id);
    else byToken.set(row.token, [row.id]);
  }
  const { id, token } = columns;
  const groups = [...byToken.entries()];
  const [only] = groups;
  if (groups.length === 1 && only)
    return {
      sql: `${token} = ? AND ${id} IN (${placeholderList(only[1].length)})`,
      params: [only[0], ...only[1]],
    };
  const all = groups.flatMap(([, ids]) => ids);
  const terms = groups.map(
    ([, ids]) => `(${token} = ? AND ${id} IN (${placeholderList(ids.length)}))`,
  );
  return {
    sql: `${id} IN (${placeholderList(all.length)}) AND (${terms.join(' OR ')})`,
    params: [...all, ...groups.flatMap(([t, ids]) => [t, ...ids])],
  };
}
