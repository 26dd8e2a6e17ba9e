import type {
  Counter,
  Histogram,
  Meter,
  ObservableCallback,
  ObservableGauge,
  UpDownCounter,
} from '@opentelemetry/api';
import type { CircuitState } from '../services/circuit-breaker.js';
import type { OpenTelemetry } from './otel-api.js';
import type {
  RedlockAcquireMessage,
  RedlockCircuitMessage,
  RedlockLostMessage,
  RedlockReleaseMessage,
} from './diagnostics-channels.js';
import { CIRCUIT_STATE_VALUES, METRIC_NAMES } from './telemetry-names.js';
import type { NodeStatesSource } from './telemetry-options.js';

/** Lock waits and holds run from a millisecond to minutes. */
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

/** Locks counted in `redlock.lock.held` at most (a release nobody confirmed sends nothing). */
const MAX_TRACKED_LOCKS = 100_000;

/**
 * The lock metrics, from the diagnostics channel messages:
 *
 * | name | kind | unit | attributes |
 * |---|---|---|---|
 * | `redlock.lock.wait.duration` | histogram | s | `redlock.outcome` |
 * | `redlock.lock.hold.duration` | histogram | s | `redlock.release.status` (`released`, `expired`, `taken`, `lost`) |
 * | `redlock.lock.acquisitions` | counter | | `redlock.outcome` (`acquired`, `busy`, `unavailable`, `error`) |
 * | `redlock.lock.held` | up-down counter | | |
 * | `redlock.lock.lost` | counter | | |
 * | `redlock.node.circuit.state` | gauge | | `redlock.node`; 0 closed, 1 half-open, 2 open |
 *
 * Resource names are not attributes: they are unbounded (`order:<id>`) and would explode the
 * number of series.
 */
export class LockMetrics {
  private readonly waitDuration: Histogram;
  private readonly holdDuration: Histogram;
  private readonly acquisitions: Counter;
  private readonly heldCount: UpDownCounter;
  private readonly lostCount: Counter;
  private readonly circuitState: ObservableGauge;
  private readonly observeCircuits: ObservableCallback;
  // Locks counted as held, so a release of a lock taken before instrumenting is not subtracted.
  private readonly held = new Set<number>();
  // Node states learned from circuit messages, for nodes of engines nobody registered.
  private readonly circuits = new Map<string, CircuitState>();
  private readonly sources = new Set<NodeStatesSource>();

  constructor(api: OpenTelemetry, meter: Meter) {
    const seconds = { unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    this.waitDuration = meter.createHistogram(METRIC_NAMES.waitDuration, {
      ...seconds,
      description: 'Time from a lock call to its outcome (acquired or given up).',
    });
    this.holdDuration = meter.createHistogram(METRIC_NAMES.holdDuration, {
      ...seconds,
      description: 'Time a lock was held, from acquisition to release or loss.',
    });
    this.acquisitions = meter.createCounter(METRIC_NAMES.acquisitions, {
      unit: '{acquisition}',
      description: 'Acquisitions that ended, by outcome.',
    });
    this.heldCount = meter.createUpDownCounter(METRIC_NAMES.held, {
      unit: '{lock}',
      description: 'Locks held by this process right now.',
    });
    this.lostCount = meter.createCounter(METRIC_NAMES.lost, {
      unit: '{lock}',
      description: 'Locks lost while held (extension refused, validity ran out).',
    });
    this.circuitState = meter.createObservableGauge(METRIC_NAMES.circuitState, {
      description: 'Circuit breaker state of each lock node: 0 closed, 1 half-open, 2 open.',
      valueType: api.ValueType.INT,
    });
    this.observeCircuits = (result) => {
      const states = new Map(this.circuits);
      for (const source of this.sources) {
        for (const { node, circuit } of source.nodeStates()) states.set(node, circuit);
      }
      states.forEach((state, node) =>
        result.observe(CIRCUIT_STATE_VALUES[state], { 'redlock.node': node }),
      );
    };
    this.circuitState.addCallback(this.observeCircuits);
  }

  /** Reports the circuit state of `source`'s nodes until the returned function is called. */
  observe(source: NodeStatesSource): () => void {
    this.sources.add(source);
    return () => void this.sources.delete(source);
  }

  acquired(message: RedlockAcquireMessage): void {
    const outcome = { 'redlock.outcome': message.outcome };
    this.waitDuration.record(message.waited / 1_000, outcome);
    this.acquisitions.add(1, outcome);
    if (message.lockId !== undefined && this.held.size < MAX_TRACKED_LOCKS) {
      this.held.add(message.lockId);
      this.heldCount.add(1);
    }
  }

  released(message: RedlockReleaseMessage): void {
    this.holdDuration.record(message.held / 1_000, { 'redlock.release.status': message.status });
    if (this.held.delete(message.lockId)) this.heldCount.add(-1);
  }

  lost(message: RedlockLostMessage): void {
    this.holdDuration.record(message.held / 1_000, { 'redlock.release.status': 'lost' });
    this.lostCount.add(1);
    if (this.held.delete(message.lockId)) this.heldCount.add(-1);
  }

  circuit(message: RedlockCircuitMessage): void {
    this.circuits.set(message.node, message.to);
  }

  close(): void {
    this.circuitState.removeCallback(this.observeCircuits);
    this.sources.clear();
  }
}
