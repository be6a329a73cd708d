export { backoffDelay } from './backoff.ts';
export { type WriterConfig, WriterEnv } from './env.ts';
export {
  LATEST_INDEX,
  type LatestValue,
  type LatestValues,
  latestKey,
  latestValues,
} from './latest-values.ts';
export {
  anomalyRow,
  faultShadowRow,
  type OutputWriter,
  predictionRow,
  startOutputWriter,
} from './outputs.ts';
export { readingRows } from './rows.ts';
export { startWriter, type Writer, type WriterContext, type WriterOptions } from './writer.ts';
