/** The job server's public surface: start one from a plain config, and the I/O shell. */
export { startServer, gearboxVersion, ServerStartError } from './start-server.js';
export type { GearboxServer, StartServerOptions, ServerStartErrorCode } from './start-server.js';
export { defaultServerConfig, ConfigError } from './config.js';
export type { ServerConfig, KeepaliveConfig, ConfigErrorCode } from './config.js';
export { NetServer, NetError, isLoopback } from './net/net-server.js';
export type { CorePort, NetServerOptions, NetErrorCode } from './net/net-server.js';
export { Logger } from './net/logger.js';
/** What `startServer` rejects with when the configured store's driver package is not installed. */
export { DriverMissingError } from '../sql/store-drivers.js';
