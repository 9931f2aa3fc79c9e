/** The job server's public surface: start one from a plain config, the I/O shell, the view. */
export { startServer, gearboxVersion, ServerStartError } from './start-server.js';
export type { GearboxServer, StartServerOptions, ServerStartErrorCode } from './start-server.js';
export { defaultServerConfig, ConfigError } from './config.js';
export type { ServerConfig, KeepaliveConfig, ConfigErrorCode } from './config.js';
export { NetServer, NetError, isLoopback } from './net/net-server.js';
export type { CorePort, NetServerOptions, NetErrorCode } from './net/net-server.js';
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
