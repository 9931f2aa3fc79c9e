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

/** `--help`, for the commands where `-h` means `--host` (as in gearman and gearadmin). */
export const HELP_OPTION = {
  name: 'help',
  help: 'print this help and exit',
} as const satisfies OptionSpec;

type Named<N extends string> = OptionSpec & { readonly name: N };

/** The names of the server-list options, for {@link serversFromOptions}. */
export type ServerListOption = 'host' | 'port' | 'servers';

/**
 * `-h/--host`, `-p/--port` and `--servers`. `defaultHost` is the host used when none is given;
 * `serversShort` gives `--servers` a one-letter form (the scheduler's `-s`).
 */
export function serverListOptions(
  defaultHost: string,
  serversShort?: string,
): readonly [Named<'host'>, Named<'port'>, Named<'servers'>] {
  return [
    {
      name: 'host',
      short: 'h',
      value: 'HOST',
      repeat: 'list',
      help: 'job server host, or host[:port],host2 for several',
      default: defaultHost,
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
export function serversFromOptions(
  options: ParsedOptions<ServerListOption>,
  defaultHost: string,
): ServerAddress[] {
  const port = options.value('port');
  if (port !== undefined) portNumber(options.shown('port'), port);
  try {
    return serversFromHostsAndPort(
      [...options.values('host'), ...options.values('servers')],
      port,
      defaultHost,
    );
  } catch (err) {
    throw new UsageError('BAD_VALUE', (err as Error).message, { cause: err });
  }
}
