import { MetricReader } from '@opentelemetry/sdk-metrics';

/** Collects on demand, no timers: what a Prometheus scrape does. */
export class ManualMetricReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
