import { ConfigurableModuleBuilder } from '@nestjs/common';
import type {
  RedlockModuleExtras,
  RedlockModuleOptions,
} from './interfaces/redlock-module-options.interface.js';

/** Token of the options as the application gave them (before validation and defaults). */
export const REDLOCK_MODULE_OPTIONS = Symbol('REDLOCK_MODULE_OPTIONS');

/** What the extras default to when the application leaves them out. */
export const DEFAULT_MODULE_EXTRAS: Required<RedlockModuleExtras> = Object.freeze({
  isGlobal: true,
  httpErrors: true,
});

/**
 * The options half of `RedlockModule.forRoot` / `forRootAsync`: `ConfigurableModuleBuilder`
 * turns `useFactory` / `useClass` / `useExisting` and `imports` into one provider of
 * `REDLOCK_MODULE_OPTIONS`. `RedlockModule` imports it beside its static self (see there why),
 * so the module is global and exports the token to the static `RedlockModule`, which sees
 * only its own imports and global modules.
 */
export const {
  ConfigurableModuleClass: ConfigurableRedlockOptionsModule,
  OPTIONS_TYPE: REDLOCK_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDLOCK_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedlockModuleOptions>({
  moduleName: 'Redlock',
  optionsInjectionToken: REDLOCK_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createRedlockOptions')
  .setExtras<RedlockModuleExtras>(DEFAULT_MODULE_EXTRAS, (definition) => ({
    ...definition,
    global: true,
    exports: [REDLOCK_MODULE_OPTIONS],
  }))
  .build();

/** @internal The module that provides `REDLOCK_MODULE_OPTIONS`; see `RedlockModule`. */
export class RedlockOptionsModule extends ConfigurableRedlockOptionsModule {}

/** What `forRootAsync({ useClass })` classes implement. */
export interface RedlockOptionsFactory {
  createRedlockOptions(): RedlockModuleOptions | Promise<RedlockModuleOptions>;
}
