export * from './card.ts';
export * from './data/dataset.ts';
export * from './data/gaps.ts';
export * from './data/inject.ts';
export * from './fault/spec.ts';
export * from './forecast/spec.ts';
export * from './score.ts';
