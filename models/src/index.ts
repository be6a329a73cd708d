export * from './card.ts';
export * from './data/dataset.ts';
export * from './data/gaps.ts';
export * from './data/inject.ts';
export {
  EVALUATION_SEED,
  evaluateFaults,
  evaluateForecast,
  evaluateJudged,
  type FaultEvaluation,
  type ForecastRow,
  type JudgedForecast,
  type JudgedScore,
} from './evaluate.ts';
export * from './fault/spec.ts';
export * from './forecast/spec.ts';
export * from './score.ts';
export { FAULT_FILE, FORECAST_FILE, type TrainOptions, trainAll } from './train.ts';
