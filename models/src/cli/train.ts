import { parseArgs } from 'node:util';
import { loadDataset } from '../data/dataset.ts';
import { trainAll } from '../train.ts';

const DEFAULT_DATA = new URL('../../../../shared/data/beijing/train', import.meta.url).pathname;
const DEFAULT_OUT = new URL('../..', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_DATA },
    out: { type: 'string', default: DEFAULT_OUT },
    seed: { type: 'string', default: '1' },
    'tune-months': { type: 'string', default: '12' },
  },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
const started = performance.now();
const dataset = await loadDataset(values.data as string);
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
