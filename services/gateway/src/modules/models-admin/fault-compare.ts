import { type FaultShadowRow, faultShadowVerdicts, type Store } from '@sensormesh/store';
import { hourKey, newestFeedback, saysFault } from './feedback.ts';
import type { FaultComparison } from './model.ts';

const HOUR_MS = 3_600_000;
/** Most verdict rows one comparison reads (flags are rare: this is months of a large network). */
const MAX_ROWS = 200_000;
/** Disagreements listed for a look at the cases, newest first. */
const MAX_DISAGREEMENTS = 50;

const iso = (ms: number) => new Date(ms).toISOString();

/** What feedback says a sensor-metric-hour was: a fault (and which kind, when known) or not. */
interface Truth {
  fault: boolean;
  kind: string | null;
}

/**
 * The newest feedback per sensor-metric-hour on anomalies in [from, to). A corrected kind decides
 * (`none`: not a fault); otherwise `right` confirms the anomaly's own kind (the end of its id) and
 * `wrong` says it was no fault, as retraining reads it.
 */
async function feedbackTruth(store: Store, from: number, to: number): Promise<Map<string, Truth>> {
  const truth = new Map<string, Truth>();
  for (const [key, f] of await newestFeedback(store, 'anomaly', from, to)) {
    const fault = saysFault(f);
    const kind = !fault ? null : f.kind !== '' ? f.kind : (f.targetId.split(':').at(-1) ?? null);
    truth.set(key, { fault, kind });
  }
  return truth;
}

type VersionStats = FaultComparison['versions'][number];

/** One version's flags over the rows it was scored on, and its precision against feedback. */
function versionStats(
  version: string,
  role: 'active' | 'shadow',
  rows: readonly FaultShadowRow[],
  kindOf: (row: FaultShadowRow) => string,
  truth: ReadonlyMap<string, Truth>,
): VersionStats {
  const byKind: Record<string, number> = {};
  let flags = 0;
  let judged = 0;
  let confirmed = 0;
  let kindMatched = 0;
  let missed = 0;
  for (const row of rows) {
    const kind = kindOf(row);
    const known = truth.get(hourKey(row.sensorId, row.metric, row.ts));
    if (!kind) {
      if (known?.fault) missed++;
      continue;
    }
    flags++;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    if (!known) continue;
    judged++;
    if (known.fault) confirmed++;
    if (known.fault && known.kind === kind) kindMatched++;
  }
  return {
    version,
    role,
    flags,
    byKind,
    feedback: {
      judged,
      confirmed,
      rejected: judged - confirmed,
      precision: judged ? confirmed / judged : null,
      kindPrecision: judged ? kindMatched / judged : null,
      missed,
    },
  };
}

/**
 * The fault shadow `shadowVersion`'s run over the scored hours [to − days, to): per version the
 * flags it raised and its precision against people's feedback, how often it agreed with the active
 * model per sensor-metric-hour, and the latest disagreements. Every row is a pass that scored both
 * models on the same window, so hours before the shadow started (or after it stopped) count for
 * neither, and an activation mid-run shows as a second active version.
 */
export function faultComparison(store: Store) {
  return async function faultComparison(
    shadowVersion: string | null,
    days: number,
    now: number,
  ): Promise<FaultComparison> {
    const to = Math.floor(now / HOUR_MS) * HOUR_MS;
    const from = to - days * 24 * HOUR_MS;
    const result: FaultComparison = {
      task: 'faults',
      from: iso(from),
      to: iso(to),
      shadow: shadowVersion,
      versions: [],
      agreement: null,
      disagreements: [],
      truncated: false,
    };
    if (!shadowVersion) return result;
    const rows = await faultShadowVerdicts(store)({
      shadowVersions: [shadowVersion],
      from,
      to,
      limit: MAX_ROWS,
    });
    result.truncated = rows.length === MAX_ROWS;
    const truth = await feedbackTruth(store, from, to);
    const actives = [...new Set(rows.map((r) => r.activeVersion).filter((v) => v !== ''))];
    for (const version of actives) {
      const own = rows.filter((r) => r.activeVersion === version);
      result.versions.push(versionStats(version, 'active', own, (r) => r.activeKind, truth));
    }
    result.versions.push(versionStats(shadowVersion, 'shadow', rows, (r) => r.shadowKind, truth));

    const agreement = { hours: rows.length, both: 0, sameKind: 0, activeOnly: 0, shadowOnly: 0 };
    const differing: FaultShadowRow[] = [];
    for (const row of rows) {
      if (row.activeKind && row.shadowKind) {
        agreement.both++;
        if (row.activeKind === row.shadowKind) agreement.sameKind++;
        else differing.push(row);
      } else {
        if (row.activeKind) agreement.activeOnly++;
        else agreement.shadowOnly++;
        differing.push(row);
      }
    }
    result.agreement = agreement;
    result.disagreements = differing
      .slice(-MAX_DISAGREEMENTS)
      .reverse()
      .map((r) => ({
        sensorId: r.sensorId,
        metric: r.metric,
        at: iso(r.ts),
        active: r.activeKind || null,
        activeScore: r.activeScore,
        shadow: r.shadowKind || null,
        shadowScore: r.shadowScore,
        value: r.value,
        expected: r.expected,
      }));
    return result;
  };
}
