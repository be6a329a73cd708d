export {
  defineStream,
  type GroupOf,
  type MessageOf,
  type RetryPolicy,
  type StreamDef,
  type StreamSpec,
  type TrimPolicy,
  validationIssues,
} from './catalogue.ts';
export { MESSAGE_FIELD } from './codec.ts';
export { type Consumer, type ConsumerOptions, createConsumer } from './consumer.ts';
export { BusPublishError, BusValidationError, type ValidationIssue } from './errors.ts';
export type { Delivery, Handler, HandlerResult } from './process-batch.ts';
export { createPublisher, type Publisher, type PublisherOptions } from './publisher.ts';
export { compareIds } from './stream-id.ts';
export {
  AlertEvent,
  Anomaly,
  AnomalyKind,
  alerts,
  anomalies,
  DeadLetter,
  dlq,
  ExportMessage,
  ExportProgress,
  exportProgress,
  exports,
  FaultShadowVerdict,
  FaultVerdict,
  ForecastStep,
  faultShadowVerdicts,
  MetricValues,
  OrderMessage,
  orders,
  Prediction,
  predictions,
  Reading,
  readings,
  streams,
} from './streams.ts';
export { type TokenLock, tokenLock } from './token-lock.ts';
export { safeTrimPoint, startTrimmer, trimStream } from './trim.ts';
