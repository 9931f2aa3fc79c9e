/**
 * The options every command that connects to job servers shares — `gearbox submit`, `worker`,
 * `admin` and `scheduler` — defined once: `-h/--host` and `--servers` (repeatable, each a
 * comma-separated list, entries may carry their own `:port`) and `-p/--port` for the entries
 * that do not, as the gearman tools take them. TLS options will join them here.
 */
import {
  DEFAULT_PORT,
  serversFromHostsAndPort,
  type ServerAddress,
} from '../connection/server-address.js';
import type { OptionSpec, ParsedOptions } from './options.js';
import { portNumber } from './option-values.js';
import { UsageError } from './usage-error.js';

/**
 * The job server host every command (and the library: `127.0.0.1:4730`) uses when none is
 * given: the loopback address rather than `localhost`, which may resolve to `::1` first while
 * `gearbox server` listens on 127.0.0.1.
 */
export const DEFAULT_HOST = '127.0.0.1';

/** `--help`, for the commands where `-h` means `--host` (as in gearman and gearadmin). */
export const HELP_OPTION = {
  name: 'help',
  help: 'print this help and exit',
} as const satisfies OptionSpec;

type Named<N extends string> = OptionSpec & { readonly name: N };

/** The names of the server-list options, for {@link serversFromOptions}. */
export type ServerListOption = 'host' | 'port' | 'servers';

/**
 * `-h/--host` (default {@link DEFAULT_HOST}), `-p/--port` and `--servers`; `serversShort`
 * gives `--servers` a one-letter form (the scheduler's `-s`).
 */
export function serverListOptions(
  serversShort?: string,
): readonly [Named<'host'>, Named<'port'>, Named<'servers'>] {
  return [
    {
      name: 'host',
      short: 'h',
      value: 'HOST',
      repeat: 'list',
      help: 'job server host, or host[:port],host2 for several',
      default: DEFAULT_HOST,
    },
    {
      name: 'port',
      short: 'p',
      value: 'PORT',
      help: 'port of the hosts given without one',
      default: String(DEFAULT_PORT),
    },
    {
      name: 'servers',
      ...(serversShort ? { short: serversShort } : {}),
      value: 'LIST',
      repeat: 'list',
      help: 'the same as -h: host[:port],host[:port],...',
    },
  ];
}

/** The job servers a command line names (every `-h` and `--servers`, `-p` for bare hosts). */
export function serversFromOptions(options: ParsedOptions<ServerListOption>): ServerAddress[] {
  const port = options.value('port');
  if (port !== undefined) portNumber(options.shown('port'), port);
  try {
    return serversFromHostsAndPort(
      [...options.values('host'), ...options.values('servers')],
      port,
      DEFAULT_HOST,
    );
  } catch (err) {
    throw new UsageError('BAD_VALUE', (err as Error).message, { cause: err });
  }
}
