/** duo-log-bridge as a library: the pieces the CLI composes, for embedding or testing. */
export { Bridge, type BridgeOptions } from './pipeline/bridge.js';
export { loadConfigFile, loadConfigText, redactedConfig } from './config/load.js';
export type { BridgeConfig } from './config/schema.js';
export { DuoClient, type DuoClientOptions } from './duo/client.js';
export { authorization, canonParams, canonicalize, signature } from './duo/sign.js';
export { LOG_KINDS } from './duo/logs/index.js';
export type { LogKind } from './duo/logs/types.js';
export { DuoEvent } from './format/event.js';
export type { Sink, SinkFactory, Batch } from './sinks/types.js';
export { SINKS } from './sinks/registry.js';
export { BridgeError, ConfigError, DuoApiError, SinkError, CheckpointError } from './errors.js';
