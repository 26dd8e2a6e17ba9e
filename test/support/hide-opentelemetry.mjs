// `node --import ./hide-opentelemetry.mjs`: the process behaves as if no @opentelemetry/*
// package were installed (the optional peer is absent), whatever node_modules holds.
import { register } from 'node:module';

register('./hide-opentelemetry.hooks.mjs', import.meta.url);
