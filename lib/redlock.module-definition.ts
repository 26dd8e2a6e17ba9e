import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { RedlockModuleOptions } from './interfaces/redlock-module-options.interface.js';

/** Token of the options as the application gave them (before validation and defaults). */
export const REDLOCK_MODULE_OPTIONS = Symbol('REDLOCK_MODULE_OPTIONS');

export const {
  ConfigurableModuleClass: ConfigurableRedlockModule,
  OPTIONS_TYPE: REDLOCK_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDLOCK_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedlockModuleOptions>({
  moduleName: 'Redlock',
  optionsInjectionToken: REDLOCK_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createRedlockOptions')
  // Global by default: locks are an application-wide concern, like config.
  .setExtras({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** What `forRootAsync({ useClass })` classes implement. */
export interface RedlockOptionsFactory {
  createRedlockOptions(): RedlockModuleOptions | Promise<RedlockModuleOptions>;
}
