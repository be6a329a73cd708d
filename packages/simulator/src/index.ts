export * from './beijing-csv.ts';
export * from './clock.ts';
export * from './devices.ts';
export * from './faults.ts';
export * from './fleet.ts';
export * from './replay.ts';
export * from './run.ts';
export * from './stations.ts';
