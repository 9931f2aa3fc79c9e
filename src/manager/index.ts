/**
 * `gearbox/manager`: the worker process manager as a library — what `gearbox manager` runs.
 *
 * @example
 * import { Manager, StderrLogger, loadConfig } from 'gearbox/manager';
 * const manager = new Manager(loadConfig('manager.yaml'), new StderrLogger('INFO'));
 * await manager.start();
 * process.once('SIGTERM', () => void manager.stop());
 */
export { Manager, type ControlResult } from './manager.js';
export {
  loadConfig,
  parseConfig,
  defaultControlSocket,
  ManagerConfigError,
  type ManagerConfig,
  type EntrySpec,
  type EntryKind,
  type AutoscaleSpec,
  type RunAs,
} from './config.js';
export {
  StderrLogger,
  MANAGER_LOG_LEVELS,
  type ManagerLogger,
  type ManagerLogLevel,
} from './manager-logger.js';
export { sendControl, ControlClientError } from './control-client.js';
export { ControlSocketError } from './control-server.js';
export type {
  ControlRequest,
  ControlResponse,
  StatusReport,
  EntryReport,
} from './control-protocol.js';
export type { ProcessRow } from './entry.js';
export type { OutputSink, CurrentJob } from './managed-process.js';
