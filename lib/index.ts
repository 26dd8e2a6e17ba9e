export { RedlockModule } from './redlock.module.js';
export type { RedlockOptionsFactory } from './redlock.module-definition.js';
export type {
  RedlockModuleAsyncOptions,
  RedlockModuleExtras,
  RedlockModuleOptions,
} from './interfaces/redlock-module-options.interface.js';
export { RedlockService } from './services/redlock.service.js';
export { RedlockConsoleModule } from './console/redlock-console.module.js';
export type { RedlockConsoleOptions } from './console/redlock-console.options.js';
export type { ConsoleNode, ConsoleState } from './console/redlock-console.service.js';
export type { ConsoleEvent } from './console/console-events.js';
export type {
  ForceReleaseOptions,
  ForceReleaseResult,
  InspectedLock,
  InspectedNode,
  InspectOptions,
  InstanceInfo,
  LockHolder,
  LockInspection,
} from './interfaces/lock-inspection.interface.js';
export type {
  ForcedRelease,
  KeyListing,
  KeyState,
  LockInspector,
} from './interfaces/lock-inspector.interface.js';
export { WithLock, type WithLockOptions } from './decorators/with-lock.decorator.js';
export {
  OnOneInstance,
  type OnOneInstanceOptions,
} from './decorators/on-one-instance.decorator.js';
export {
  WithoutOverlapping,
  type WithoutOverlappingOptions,
} from './decorators/without-overlapping.decorator.js';
export type { ScheduledJobOptions } from './decorators/scheduled-job.js';
export {
  LeaderElection,
  type LeaderElectionOptions,
} from './decorators/leader-election.decorator.js';
export type { OnLeadershipAcquired, OnLeadershipLost } from './interfaces/leadership.interface.js';
export type { Duration, DurationUnit } from './services/duration.js';
export type { LockKey } from './decorators/key-template.js';
export { InjectRedlockPools } from './decorators/inject-redlock-pools.decorator.js';
export { RedlockErrorsInterceptor } from './redlock-errors.interceptor.js';
export { RedlockExceptionFilter } from './redlock-exception.filter.js';
export {
  RedlockHttpException,
  toHttpException,
  type RedlockHttpBody,
} from './redlock-http.exception.js';
export {
  RedlockHealthIndicator,
  type RedlockHealthResult,
  type RedlockNodeHealth,
} from './redlock.health-indicator.js';
export {
  Redlock,
  type LockScope,
  type RedlockEngineOptions,
  type Resources,
} from './services/redlock.engine.js';
export { Lock, type LockSummary } from './services/lock.js';
export type { HandOffOptions } from './services/hand-off.js';
export type { Clock, TimerHandle } from './services/clock.js';
export { DEFAULT_LOCK_OPTIONS } from './services/lock-options.js';
export { DEFAULT_SHUTDOWN_TIMEOUT } from './services/module-options.js';
export {
  exponentialBackoff,
  LockPresets,
  type ExponentialBackoffOptions,
} from './services/retry-policies.js';
export type { CircuitBreakerOptions, CircuitState } from './services/circuit-breaker.js';
export type {
  CredentialsOptions,
  CredentialsStatus,
  RedisCredentials,
} from './services/credentials.js';
export type { ResolvedRedlockOptions } from './services/module-options.js';
export type {
  LockMode,
  LockOptions,
  ResolvedLockOptions,
} from './interfaces/lock-options.interface.js';
export type {
  AcquireOptions,
  AcquireReply,
  LockAdapter,
  OwnerReply,
  ReleaseOptions,
  SharedLocks,
  HandOff,
} from './interfaces/lock-adapter.interface.js';
export type {
  RedlockEvent,
  RedlockLogger,
  ReleaseStatus,
} from './interfaces/redlock-events.interface.js';
export {
  REDLOCK_CHANNELS,
  type RedlockAcquireMessage,
  type RedlockAcquireOutcome,
  type RedlockBusyMessage,
  type RedlockChannelName,
  type RedlockCircuitMessage,
  type RedlockDegradedMessage,
  type RedlockExtendMessage,
  type RedlockForceReleaseMessage,
  type RedlockLostMessage,
  type RedlockReleaseMessage,
} from './observability/diagnostics-channels.js';
export {
  instrumentRedlock,
  type RedlockInstrumentation,
} from './observability/otel-instrumentation.js';
export {
  CIRCUIT_STATE_VALUES,
  METRIC_NAMES,
  SPAN_ATTRIBUTES,
  SPAN_NAMES,
} from './observability/telemetry-names.js';
export type {
  MeterProviderLike,
  NodeStatesSource,
  RedlockTelemetryOptions,
  TracerProviderLike,
} from './observability/telemetry-options.js';
export {
  LockKeyError,
  LockLostError,
  LockNotAcquiredError,
  RedlockConfigError,
  RedlockError,
  RedlockUnavailableError,
  WriteLockHeldError,
  type LockKeyErrorCode,
  type NodeOutcome,
  type NodeOutcomeKind,
  type RedlockConfigErrorCode,
} from './redlock.errors.js';
export {
  DEFAULT_KEY_PREFIX,
  MAX_KEY_BYTES,
  REDLOCK_OPTIONS,
  REDLOCK_POOLS,
} from './redlock.constants.js';
export {
  createLockAdapter,
  type ClusterNodeConfig,
  type RedlockNode,
  type SentinelNodeConfig,
} from './adapters/lock-adapter.factory.js';
export {
  IoredisLockAdapter,
  type IoredisClient,
  type IoredisLockAdapterOptions,
} from './adapters/ioredis.adapter.js';
export { MemoryLockAdapter, type MemoryLockAdapterOptions } from './adapters/memory.adapter.js';
export {
  IovalkeyLockAdapter,
  type IovalkeyClient,
  type IovalkeyLockAdapterOptions,
} from './adapters/iovalkey.adapter.js';
export {
  NodeRedisLockAdapter,
  type NodeRedisLockAdapterOptions,
} from './adapters/node-redis.adapter.js';
export type {
  NodeRedisClient,
  NodeRedisClusterClient,
  NodeRedisStandaloneClient,
} from './adapters/node-redis.client.js';
