/** The job server's public surface: start one from a plain config, the I/O shell, the view. */
export { startServer, gearboxVersion, ServerStartError } from './start-server.js';
export type { GearboxServer, StartServerOptions, ServerStartErrorCode } from './start-server.js';
export { defaultServerConfig, ConfigError } from './config.js';
export type { ServerConfig, KeepaliveConfig, ConfigErrorCode } from './config.js';
export { NetServer } from './net/net-server.js';
export type { CorePort, NetServerOptions } from './net/net-server.js';
export { NetError, type NetErrorCode } from './net/net-error.js';
export { isLoopback, type PeerDetails } from './net/peer-details.js';
export { TcpListener } from './net/listener.js';
export type { Listener, ListenerHost, TcpListenerOptions } from './net/listener.js';
export type { PeerSocket } from './net/peer-connection.js';
export { Logger } from './net/logger.js';
export { GearboxServerView } from './view/server-view.js';
export type {
  ServerView,
  NetFigures,
  NetFiguresSource,
  StoreFigures,
  StoreFiguresSource,
} from './view/server-view.js';
export { ViewQueryError, PREVIEW_BYTES, TIME_BUCKETS_MS } from './core/index.js';
export type {
  CoreView,
  CoreTotals,
  FunctionRecord,
  PeerRecord,
  PeerKindName,
  JobRecord,
  JobStateName,
  JobQuery,
  JobPage,
  ByPriority,
  ByPeerKind,
  JobCounters,
  Distribution,
} from './core/index.js';
/** What `startServer` rejects with when the configured store's driver package is not installed. */
export { DriverMissingError } from '../sql/store-drivers.js';
