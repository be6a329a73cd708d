export * from './device-keys.ts';
export * from './model.ts';
export * from './service.ts';
