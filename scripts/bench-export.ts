/** `scripts/bench export`: export throughput and peak RSS (see scripts/lib/bench-export.ts). */
import { benchExportMain } from './lib/bench-export.ts';

await benchExportMain();
