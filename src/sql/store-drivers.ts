import { GearboxError } from '../protocol/errors.js';
import type { QueueConfig } from './store-url.js';

/**
 * The npm package each store needs, and the store's name in messages. The drivers are optional
 * peer dependencies (see docs/architecture.md, "A light client install"): `npm install gearbox`
 * installs none of them, so a program that only uses `Client`, `Worker` and `AdminClient` gets
 * no database driver and no native build; whoever runs a store installs its driver.
 */
export const STORE_DRIVERS = {
  sqlite: { driver: 'better-sqlite3', store: 'SQLite' },
  postgres: { driver: 'pg', store: 'PostgreSQL' },
  mysql: { driver: 'mysql2', store: 'MySQL/MariaDB' },
  redis: { driver: 'ioredis', store: 'Redis' },
} as const satisfies Record<
  Exclude<QueueConfig['type'], 'builtin'>,
  { readonly driver: string; readonly store: string }
>;

/** A store that needs a driver package. */
export type DriverStoreType = keyof typeof STORE_DRIVERS;

/** The store's driver package is not installed where Gearbox can import it. */
export class DriverMissingError extends GearboxError<'DRIVER_MISSING'> {
  /** The npm package to install, e.g. `pg`. */
  readonly driver: string;

  constructor(type: DriverStoreType, options?: { cause?: unknown }) {
    const { driver, store } = STORE_DRIVERS[type];
    super(
      'DRIVER_MISSING',
      `the ${store} store needs the \`${driver}\` package: npm install ${driver}`,
      options,
    );
    this.driver = driver;
  }
}

/**
 * Loads the driver a store needs, before the store's own module (which imports it statically)
 * is loaded: a missing package then becomes a {@link DriverMissingError} naming what to install,
 * instead of an ERR_MODULE_NOT_FOUND stack. The import is the one the store's module makes (same
 * package, same resolution), so it costs nothing more; a driver that is present but broken (a
 * native addon built for another Node) keeps its own error.
 */
export async function loadStoreDriver(type: DriverStoreType): Promise<void> {
  const { driver } = STORE_DRIVERS[type];
  try {
    await import(driver);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND')
      throw new DriverMissingError(type, { cause: err });
    throw err;
  }
}
