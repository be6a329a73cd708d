import { parseArgs } from 'node:util';
import { HOUR_MS, loadDataset, sliceDataset } from '../data/dataset.ts';
import { trainAll } from '../train.ts';

const DEFAULT_DATA = new URL('../../../../shared/data/beijing/train', import.meta.url).pathname;
const DEFAULT_OUT = new URL('../..', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    out: { type: 'string', default: DEFAULT_OUT },
    seed: { type: 'string', default: '1' },
    'tune-months': { type: 'string', default: '12' },
    /** Train on the hours before this time only: leaves the rest as a year the models never saw. */
    until: { type: 'string' },
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
const untilMs = values.until === undefined ? undefined : Date.parse(values.until);
if (untilMs !== undefined && (!Number.isFinite(untilMs) || untilMs % HOUR_MS !== 0))
  throw new Error(`--until must be a time on the hour, got ${values.until}`);
const started = performance.now();
const loaded = await loadDataset(values.data as string);
const dataset =
  untilMs === undefined
    ? loaded
    : sliceDataset(loaded, loaded.startHour, untilMs / HOUR_MS - loaded.startHour);
if (dataset.hours <= 0) throw new Error(`--until ${values.until} is before the data starts`);
const result = await trainAll(dataset, {
  dataLabel: 'Beijing Multi-Site Air-Quality (UCI, CC BY 4.0), train/',
  outDir: values.out as string,
  seed,
  tuneMonths: Number(values['tune-months']),
});
// Cards are committed: format them as the repository's formatter would, so a retrain diffs cleanly.
const cards = ['forecast', 'faults'].flatMap((base) => [`${base}.card.json`, `${base}.card.md`]);
Bun.spawnSync(['bunx', 'biome', 'format', '--write', ...cards.map((file) => `${values.out}/${file}`)], {
  stdout: 'ignore',
  stderr: 'ignore',
});
process.stdout.write(
  `${JSON.stringify(
    {
      seconds: Math.round((performance.now() - started) / 1000),
      forecast: {
        file: result.forecastCard.file,
        sha256: result.forecastCard.sha256,
        tune: result.forecast.tune,
      },
      faults: {
        file: result.faultCard.file,
        sha256: result.faultCard.sha256,
        threshold: result.faults.threshold,
        tune: result.faults.tune,
      },
    },
    null,
    2,
  )}\n`,
);
