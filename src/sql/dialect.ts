import type { SqlEngine } from './sql-errors.js';

/** The column types a table of ours uses, as each dialect spells them. */
export type ColumnType =
  'id' | 'smallint' | 'int' | 'bigint' | 'text' | 'blob' | { readonly varchar: number };

/** A key or an index: named `<table>_<name>` where the dialect names them. */
export interface KeySpec {
  readonly name: string;
  readonly columns: readonly string[];
}

/** A table of ours: columns (name, type, constraints), unique keys and indexes. */
export interface TableSpec {
  readonly columns: readonly (readonly [name: string, type: ColumnType, constraints?: string])[];
  readonly unique?: readonly KeySpec[];
  readonly indexes?: readonly KeySpec[];
}

/**
 * What PostgreSQL, MySQL/MariaDB and SQLite spell or do differently, as capabilities and as
 * methods that build the statement, so that code written once over a dialect never asks which
 * database it is on. Statements are written with `?` placeholders.
 */
export interface SqlDialect {
  /** Which database: for error classification and descriptions, not for branching. */
  readonly engine: SqlEngine;
  /** An expression for the database's clock in Unix milliseconds. */
  readonly nowMs: string;
  /**
   * Whether `FOR UPDATE SKIP LOCKED` exists, so that several transactions claim rows side by
   * side. SQLite has no row locks: its write transaction (`BEGIN IMMEDIATE`) excludes the others.
   */
  readonly skipLocked: boolean;
  /** Whether `UPDATE … RETURNING` exists (PostgreSQL, SQLite; not MySQL/MariaDB). */
  readonly updateReturning: boolean;
  /**
   * Whether a WITH clause may hold data-modifying statements (PostgreSQL), so that a select, an
   * update and a probe run as one autocommitted statement.
   */
  readonly writableCte: boolean;
  /** `?` placeholders as the driver takes them (`$1`, `$2`, … on PostgreSQL). */
  placeholders(sql: string): string;
  /**
   * The locking clause of a SELECT inside a write transaction: `FOR UPDATE`, plus `SKIP LOCKED`
   * when asked for (where it exists); nothing on SQLite.
   */
  forUpdate(options?: { readonly skipLocked?: boolean }): string;
  /**
   * An INSERT of one row (a `?` per column) that is skipped without error when a unique key
   * already has the row. On PostgreSQL it returns the new row's `id`; elsewhere the driver does.
   */
  insertIgnore(table: string, columns: readonly string[]): string;
  /**
   * An INSERT of `rows` (a `VALUES …` list or a `SELECT`) that replaces the row with the same
   * `key`: `ON CONFLICT … DO UPDATE`, `ON DUPLICATE KEY UPDATE`, or SQLite's `INSERT OR REPLACE`
   * (which deletes and re-inserts: the row moves to the end of rowid order).
   */
  upsert(table: string, columns: readonly string[], key: readonly string[], rows: string): string;
  /** CREATE TABLE IF NOT EXISTS, and CREATE INDEX IF NOT EXISTS where keys are not inline. */
  createTable(table: string, spec: TableSpec): string[];
}

/** How a dialect spells a table definition. */
interface TableStyle {
  readonly types: Record<Exclude<ColumnType, object>, string>;
  varchar(length: number): string;
  /** MySQL has no CREATE INDEX IF NOT EXISTS: keys and indexes are declared in the table. */
  readonly keysInTable: boolean;
  readonly tableOptions?: string;
}

function createTable(style: TableStyle, table: string, spec: TableSpec): string[] {
  const list = (columns: readonly string[]): string => columns.join(', ');
  const lines = spec.columns.map(([name, type, constraints]) =>
    [name, typeof type === 'object' ? style.varchar(type.varchar) : style.types[type], constraints]
      .filter(Boolean)
      .join(' '),
  );
  const indexes = spec.indexes ?? [];
  for (const u of spec.unique ?? [])
    lines.push(
      style.keysInTable
        ? `UNIQUE KEY ${table}_${u.name} (${list(u.columns)})`
        : `UNIQUE (${list(u.columns)})`,
    );
  if (style.keysInTable)
    for (const i of indexes) lines.push(`KEY ${table}_${i.name} (${list(i.columns)})`);
  const options = style.tableOptions ? ` ${style.tableOptions}` : '';
  const create = `CREATE TABLE IF NOT EXISTS ${table} (\n  ${lines.join(',\n  ')}\n)${options}`;
  if (style.keysInTable) return [create];
  return [
    create,
    ...indexes.map(
      (i) => `CREATE INDEX IF NOT EXISTS ${table}_${i.name} ON ${table} (${list(i.columns)})`,
    ),
  ];
}

const rowLocks = (options: { readonly skipLocked?: boolean } = {}): string =>
  options.skipLocked ? 'FOR UPDATE SKIP LOCKED' : 'FOR UPDATE';
/** `?, ?, ?` for `count` values (a row, an IN list). */
export function placeholderList(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

const marks = (columns: readonly string[]): string => placeholderList(columns.length);
const others = (columns: readonly string[], key: readonly string[]): string[] =>
  columns.filter((c) => !key.includes(c));

const postgresTables: TableStyle = {
  types: {
    id: 'BIGSERIAL PRIMARY KEY',
    smallint: 'SMALLINT',
    int: 'INTEGER',
    bigint: 'BIGINT',
    text: 'TEXT',
    blob: 'BYTEA',
  },
  varchar: (n) => `VARCHAR(${n})`,
  keysInTable: false,
};

/** PostgreSQL. */
export const postgresDialect: SqlDialect = {
  engine: 'postgres',
  nowMs: `(floor(extract(epoch from clock_timestamp()) * 1000)::bigint)`,
  skipLocked: true,
  updateReturning: true,
  writableCte: true,
  placeholders(sql) {
    // Our statements have no `?` inside string literals.
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  },
  forUpdate: rowLocks,
  insertIgnore: (t, columns) =>
    `INSERT INTO ${t} (${columns.join(', ')}) VALUES (${marks(columns)}) ON CONFLICT DO NOTHING RETURNING id`,
  upsert: (t, columns, key, rows) =>
    `INSERT INTO ${t} (${columns.join(', ')}) ${rows} ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${others(
      columns,
      key,
    )
      .map((c) => `${c} = EXCLUDED.${c}`)
      .join(', ')}`,
  createTable: (t, spec) => createTable(postgresTables, t, spec),
};

const mysqlTables: TableStyle = {
  types: {
    id: 'BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY',
    smallint: 'SMALLINT',
    int: 'INT',
    bigint: 'BIGINT',
    text: 'TEXT',
    blob: 'LONGBLOB',
  },
  varchar: (n) => `VARCHAR(${n})`,
  keysInTable: true,
  tableOptions: 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
};

/** MySQL 8 or MariaDB 10.6 and later (for SKIP LOCKED). */
export const mysqlDialect: SqlDialect = {
  engine: 'mysql',
  nowMs: `CAST(FLOOR(UNIX_TIMESTAMP(NOW(3)) * 1000) AS SIGNED)`,
  skipLocked: true,
  updateReturning: false,
  writableCte: false,
  placeholders: (sql) => sql,
  forUpdate: rowLocks,
  insertIgnore: (t, columns) =>
    `INSERT IGNORE INTO ${t} (${columns.join(', ')}) VALUES (${marks(columns)})`,
  upsert: (t, columns, key, rows) =>
    `INSERT INTO ${t} (${columns.join(', ')}) ${rows} ON DUPLICATE KEY UPDATE ${others(columns, key)
      .map((c) => `${c} = VALUES(${c})`)
      .join(', ')}`,
  createTable: (t, spec) => createTable(mysqlTables, t, spec),
};

const sqliteTables: TableStyle = {
  types: {
    id: 'INTEGER PRIMARY KEY AUTOINCREMENT',
    smallint: 'INTEGER',
    int: 'INTEGER',
    bigint: 'INTEGER',
    text: 'TEXT',
    blob: 'BLOB',
  },
  varchar: () => 'TEXT',
  keysInTable: false,
};

/** SQLite 3.35 or later (for RETURNING). */
export const sqliteDialect: SqlDialect = {
  engine: 'sqlite',
  // A function each connection defines, so that tests can run on a fake clock.
  nowMs: `gearbox_now_ms()`,
  skipLocked: false,
  updateReturning: true,
  writableCte: false,
  placeholders: (sql) => sql,
  forUpdate: () => '',
  insertIgnore: (t, columns) =>
    `INSERT OR IGNORE INTO ${t} (${columns.join(', ')}) VALUES (${marks(columns)})`,
  upsert: (t, columns, _key, rows) => `INSERT OR REPLACE INTO ${t} (${columns.join(', ')}) ${rows}`,
  createTable: (t, spec) => createTable(sqliteTables, t, spec),
};
