/**
 * A retrain in a worker thread (training is synchronous JS for tens of seconds: on the gateway's
 * own thread it would stall every request). Trains both models on `train` with the models
 * package's code, then scores the requested task's new version and the active one on `recent`
 * (hours the new version never saw) and posts back the new ONNX bytes, its card and both figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Dataset,
  evaluateFaults,
  evaluateForecast,
  evaluateJudged,
  FAULT_FILE,
  FaultScorer,
  FORECAST_FILE,
  ForecastScorer,
  type JudgedForecast,
  type JudgedScore,
  type ModelCard,
  trainAll,
} from '@sensormesh/models';

declare const self: Worker;

/** What the gateway sends. */
export interface RetrainRequest {
  task: 'forecast' | 'faults';
  train: Dataset;
  recent: Dataset;
  seed: number;
  tuneMonths: number;
  quick: boolean;
  active: { bytes: Uint8Array; card: ModelCard } | null;
  /** Forecasts in the recent days people marked wrong and right (forecast task). */
  judged: { wrong: JudgedForecast[]; right: JudgedForecast[] };
}

/** Both versions' p50 MAE where people judged forecasts wrong, and where they judged them right. */
export interface JudgedComparison {
  wrong: { candidate: JudgedScore; active: JudgedScore | null };
  right: { candidate: JudgedScore; active: JudgedScore | null };
}

/** What the worker answers. */
export type RetrainReply =
  | {
      ok: true;
      bytes: Uint8Array;
      card: ModelCard;
      candidate: unknown;
      active: unknown;
      judged?: JudgedComparison;
    }
  | { ok: false; error: string };

type Judged = { wrong: JudgedScore; right: JudgedScore };

async function evaluate(
  request: RetrainRequest,
  bytes: Uint8Array,
  card: ModelCard,
): Promise<{ scores: unknown; judged?: Judged }> {
  const { task, recent, judged } = request;
  if (task === 'forecast') {
    const scorer = await ForecastScorer.load(bytes);
    try {
      return {
        scores: await evaluateForecast(scorer, card, recent),
        judged: {
          wrong: await evaluateJudged(scorer, recent, judged.wrong),
          right: await evaluateJudged(scorer, recent, judged.right),
        },
      };
    } finally {
      await scorer.release();
    }
  }
  const scorer = await FaultScorer.load(bytes, Number((card.details as { threshold: number }).threshold));
  try {
    return { scores: await evaluateFaults(scorer, card, recent) };
  } finally {
    await scorer.release();
  }
}

self.onmessage = async (event: MessageEvent<RetrainRequest>) => {
  const request = event.data;
  const dir = await mkdtemp(join(tmpdir(), 'sensormesh-retrain-'));
  try {
    const trained = await trainAll(request.train, {
      dataLabel: 'ClickHouse hourly rollup (retrain)',
      outDir: dir,
      seed: request.seed,
      tuneMonths: request.tuneMonths,
      quick: request.quick,
    });
    const card = request.task === 'forecast' ? trained.forecastCard : trained.faultCard;
    const file = request.task === 'forecast' ? FORECAST_FILE : FAULT_FILE;
    const bytes = new Uint8Array(await Bun.file(join(dir, file)).arrayBuffer());
    const candidate = await evaluate(request, bytes, card);
    const active = request.active ? await evaluate(request, request.active.bytes, request.active.card) : null;
    const judged = candidate.judged && {
      wrong: { candidate: candidate.judged.wrong, active: active?.judged?.wrong ?? null },
      right: { candidate: candidate.judged.right, active: active?.judged?.right ?? null },
    };
    self.postMessage({
      ok: true,
      bytes,
      card,
      candidate: candidate.scores,
      active: active?.scores ?? null,
      ...(judged ? { judged } : {}),
    } satisfies RetrainReply);
  } catch (error) {
    self.postMessage({
      ok: false,
      error: error instanceof Error ? error.message : String(error),
    } satisfies RetrainReply);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};
