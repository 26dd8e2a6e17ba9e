import 'reflect-metadata';

/**
 * `@nestjs/schedule`'s metadata key and its value for `@Cron` (`SchedulerType.CRON`), read by
 * name so that the package stays an optional peer that is never imported at runtime.
 */
const SCHEDULER_TYPE = 'SCHEDULER_TYPE';
const CRON = 1;

/**
 * Whether the method is a `@Cron` job. Decorators may be stacked in any order: `@Cron` below
 * ours put its metadata on the original (copied onto our wrapper), above ours on our wrapper or
 * on a wrapper further out, which is what the instance's property holds.
 */
export function isCronMethod(
  instance: object | undefined,
  propertyKey: string | symbol,
  wrapper: object,
): boolean {
  if (Reflect.getMetadata(SCHEDULER_TYPE, wrapper) === CRON) return true;
  const current: unknown = instance
    ? (instance as Record<string | symbol, unknown>)[propertyKey]
    : undefined;
  return typeof current === 'function' && Reflect.getMetadata(SCHEDULER_TYPE, current) === CRON;
}
