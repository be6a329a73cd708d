import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelCard } from '../card.ts';
import { HOUR_MS, loadDataset, sliceDataset } from '../data/dataset.ts';
import { evaluateFaults, evaluateForecast, goals } from '../evaluate.ts';
import { WINDOW_HOURS } from '../forecast/spec.ts';
import { FaultScorer, ForecastScorer } from '../score.ts';
import { FAULT_FILE, FORECAST_FILE } from '../train.ts';

const MODELS = new URL('../..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    models: { type: 'string', default: MODELS },
    out: { type: 'string' },
    /** Score origins from this time on only (their windows may reach back before it). */
    from: { type: 'string' },
  },
});
if (!values.data) {
  process.stderr.write('usage: bun run evaluate --data DIR [--models DIR] [--out FILE.json]\n');
  process.exit(2);
}
const dataDir = resolve(values.data);
const out = values.out ?? join(MODELS, '..', 'bench', 'results', `evaluate-${basename(dataDir)}.json`);
const card = async (file: string) =>
  (await Bun.file(join(values.models as string, file.replace(/\.onnx$/, '.card.json'))).json()) as ModelCard;

const fromMs = values.from === undefined ? undefined : Date.parse(values.from);
if (fromMs !== undefined && (!Number.isFinite(fromMs) || fromMs % HOUR_MS !== 0)) {
  process.stderr.write(`--from must be a time on the hour, got ${values.from}\n`);
  process.exit(2);
}
const started = performance.now();
const loaded = await loadDataset(dataDir);
// The first origin is `from`: its window starts WINDOW_HOURS − 1 hours before.
const firstHour = fromMs === undefined ? loaded.startHour : fromMs / HOUR_MS - WINDOW_HOURS + 1;
const dataset = sliceDataset(loaded, firstHour, loaded.startHour + loaded.hours - firstHour);
if (dataset.hours <= WINDOW_HOURS) {
  process.stderr.write(`--from ${values.from} leaves no origin with a whole window in ${dataDir}\n`);
  process.exit(2);
}
const forecastCard = await card(FORECAST_FILE);
const faultCard = await card(FAULT_FILE);
const forecastScorer = await ForecastScorer.load(join(values.models as string, FORECAST_FILE));
const faultScorer = await FaultScorer.load(
  join(values.models as string, FAULT_FILE),
  (faultCard.details as { threshold: number }).threshold,
);
const forecast = await evaluateForecast(forecastScorer, forecastCard, dataset);
const faults = await evaluateFaults(faultScorer, faultCard, dataset);
const report = {
  data: dataDir,
  period: {
    from: new Date(dataset.startHour * HOUR_MS).toISOString(),
    to: new Date((dataset.startHour + dataset.hours - 1) * HOUR_MS).toISOString(),
  },
  stations: dataset.stations.map((s) => s.station),
  models: {
    forecast: { version: forecastCard.version, sha256: forecastCard.sha256 },
    faults: { version: faultCard.version, sha256: faultCard.sha256 },
  },
  forecast,
  faults,
  goals: goals(forecast, faults),
  seconds: Math.round((performance.now() - started) / 1000),
};
await mkdir(dirname(out), { recursive: true });
await Bun.write(out, `${JSON.stringify(report, null, 2)}\n`);

const pad = (value: unknown, width: number) => String(value).padStart(width);
const lines = [
  `Forecast on ${report.period.from} .. ${report.period.to} (${report.stations.length} stations), MAE / RMSE µg/m³`,
  `${'target'.padEnd(7)}${pad('h', 4)}${pad('points', 9)}${pad('model', 16)}${pad('persistence', 16)}${pad('climatology', 16)}${pad('p10-p90', 9)}`,
  ...forecast.map(
    (r) =>
      `${r.target.padEnd(7)}${pad(r.horizon, 4)}${pad(r.points, 9)}${pad(`${r.mae.model.toFixed(1)} / ${r.rmse.model.toFixed(1)}`, 16)}${pad(`${r.mae.persistence.toFixed(1)} / ${r.rmse.persistence.toFixed(1)}`, 16)}${pad(`${r.mae.climatology.toFixed(1)} / ${r.rmse.climatology.toFixed(1)}`, 16)}${pad(`${(r.coverage * 100).toFixed(1)}%`, 9)}`,
  ),
  '',
  `Faults: ${faults.injected} injected (seed ${faults.seed})`,
  `${'method'.padEnd(22)}${pad('precision', 10)}${pad('recall', 8)}${pad('F1', 7)}${pad('kind F1', 9)}${pad('false alarms', 14)}`,
  ...(
    [
      [`model (p(none)<${faults.model.threshold})`, faults.model],
      [`z-score (|z|>${faults.zscore.threshold})`, faults.zscore],
    ] as const
  ).map(
    ([name, s]) =>
      `${name.padEnd(22)}${pad(s.precision.toFixed(3), 10)}${pad(s.recall.toFixed(3), 8)}${pad(s.f1.toFixed(3), 7)}${pad(s.kindF1.toFixed(3), 9)}${pad(`${(s.falseAlarmRate * 100).toFixed(3)}%`, 14)}`,
  ),
  `recall by kind (detected/named/total): ${Object.entries(faults.model.recallByKind)
    .map(([kind, k]) => `${kind} ${k.detected}/${k.named}/${k.total}`)
    .join(', ')}`,
  '',
  'Goals:',
  ...Object.entries(report.goals).map(
    ([name, g]) => `  ${g.met ? 'met    ' : 'NOT met'} ${name.padEnd(20)} ${pad(g.value, 8)}  ${g.goal}`,
  ),
  '',
  `JSON: ${out} (${report.seconds} s)`,
];
process.stdout.write(`${lines.join('\n')}\n`);
await forecastScorer.release();
await faultScorer.release();
