/** The Gearman port registered with IANA. */
export const DEFAULT_PORT = 4730;

/** How a server is spoken to: `tcp` (plain Gearman over TCP) is the only one so far. */
export type ServerScheme = 'tcp';

/** The schemes a server address may name. */
const SCHEMES: readonly ServerScheme[] = ['tcp'];

/** Where a job server listens. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  /**
   * How to speak to it; absent means `tcp`. The parser leaves the default out, so a plain
   * address stays `{ host, port }` whether it was written `host:port` or `tcp://host:port`.
   */
  readonly scheme?: ServerScheme;
}

/**
 * What callers may pass as servers: `"host"`, `"host:port"`, `"[::1]:4730"`, the same with a
 * scheme (`"tcp://host:port"`), a comma-separated list of those, an address object, or an
 * array of any of these.
 */
export type ServerList = string | ServerAddress | ReadonlyArray<string | ServerAddress>;

/** Splits off a leading `scheme://`; refuses a scheme this version cannot speak. */
function parseScheme(text: string): { scheme: ServerScheme; rest: string } {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (match === null) return { scheme: 'tcp', rest: text };
  const name = (match[1] as string).toLowerCase();
  const scheme = SCHEMES.find((known) => known === name);
  if (scheme === undefined)
    throw new TypeError(
      `invalid server address '${text}': unsupported scheme '${name}://' (supported: ${SCHEMES.map((k) => `${k}://`).join(', ')})`,
    );
  return { scheme, rest: text.slice(match[0].length) };
}

function parseOne(text: string): ServerAddress {
  const { scheme, rest: s } = parseScheme(text.trim());
  let host = s;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) throw new TypeError(`invalid server address '${text}': missing ']'`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new TypeError(`invalid server address '${text}'`);
      portText = rest.slice(1);
    }
  } else {
    const colon = s.lastIndexOf(':');
    // More than one colon without brackets is a bare IPv6 address, not host:port.
    if (colon !== -1 && s.indexOf(':') === colon) {
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
    }
  }
  if (host === '') throw new TypeError(`invalid server address '${text}': empty host`);
  return withScheme(
    host,
    portText === undefined ? DEFAULT_PORT : parsePort(portText, text),
    scheme,
  );
}

function parsePort(portText: string, whole: string): number {
  if (!/^\d{1,5}$/.test(portText)) throw new TypeError(`invalid port in server address '${whole}'`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new TypeError(`port out of range in '${whole}'`);
  return port;
}

function checkAddress(address: ServerAddress): ServerAddress {
  if (typeof address.host !== 'string' || address.host === '')
    throw new TypeError('server host must be a non-empty string');
  if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535)
    throw new TypeError(`server port must be an integer from 1 to 65535, got ${address.port}`);
  const scheme = SCHEMES.find((known) => known === (address.scheme ?? 'tcp'));
  if (scheme === undefined)
    throw new TypeError(
      `server scheme must be one of ${SCHEMES.join(', ')}, got ${String(address.scheme)}`,
    );
  return withScheme(address.host, address.port, scheme);
}

/** An address, with its scheme only when it is not the default. */
function withScheme(host: string, port: number, scheme: ServerScheme): ServerAddress {
  return scheme === 'tcp' ? { host, port } : { host, port, scheme };
}

/**
 * Normalises a server list; throws a `TypeError` for anything malformed or for an empty list.
 *
 * @example parseServers('10.0.0.1:4730,10.0.0.2') // two servers, both on port 4730
 */
export function parseServers(servers: ServerList | undefined): ServerAddress[] {
  const items =
    servers === undefined ? ['127.0.0.1'] : Array.isArray(servers) ? servers : [servers];
  const out: ServerAddress[] = [];
  for (const item of items as ReadonlyArray<string | ServerAddress>) {
    if (typeof item === 'string') {
      for (const part of item.split(',')) if (part.trim() !== '') out.push(parseOne(part));
    } else if (item !== null && typeof item === 'object') {
      out.push(checkAddress(item));
    } else {
      throw new TypeError(`invalid server entry: ${String(item)}`);
    }
  }
  if (out.length === 0) throw new TypeError('at least one server is needed');
  return out;
}

/** `host:port`, bracketing IPv6 hosts (plain TCP carries no scheme prefix). */
export function formatAddress(address: ServerAddress): string {
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Builds a server list the way the gearman tools take it: `-h` hosts (each may be a
 * comma-separated list, and may carry its own `:port`) with `-p` as the port of those that do
 * not. Throws a `TypeError` for a malformed entry.
 */
export function serversFromHostsAndPort(
  hosts: readonly string[],
  port: string | undefined,
  defaultHost = 'localhost',
): ServerAddress[] {
  const fallbackPort = port === undefined ? DEFAULT_PORT : parsePort(port, port);
  const entries = hosts.flatMap((h) => h.split(',')).filter((h) => h.trim() !== '');
  if (entries.length === 0) entries.push(defaultHost);
  return entries.map((entry) => {
    const [address] = parseServers(entry);
    if (address === undefined) throw new TypeError(`invalid server address '${entry}'`);
    const { rest } = parseScheme(entry.trim());
    const explicitPort = /^\[.*\]:\d+$/.test(rest) || /^[^:]*:\d+$/.test(rest);
    return explicitPort ? address : { ...address, port: fallbackPort };
  });
}
