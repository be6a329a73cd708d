export * from './metrics.ts';
export * from './units.ts';
export * from './validate.ts';
