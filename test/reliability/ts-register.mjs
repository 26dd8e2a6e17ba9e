// `node --import ./ts-register.mjs worker.mjs`: TypeScript sources for worker processes.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
