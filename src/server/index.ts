/** The job server's public surface: start one, parse gearmand's flags, and the I/O shell. */
export { startServer, gearboxVersion, ServerStartError } from './start-server.js';
export type { GearboxServer, StartServerOptions, ServerStartErrorCode } from './start-server.js';
export {
  parseServerArgs,
  defaultServerConfig,
  serverHelp,
  queueFromUrl,
  ConfigError,
} from './config.js';
export type { ServerConfig, KeepaliveConfig, ParsedServerArgs, ConfigErrorCode } from './config.js';
export { NetServer, NetError, isLoopback } from './net/net-server.js';
export type { CorePort, NetServerOptions, NetErrorCode } from './net/net-server.js';
export { Logger } from './net/logger.js';
