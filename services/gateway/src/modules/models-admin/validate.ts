import { AppError } from '@sensormesh/errors';
import {
  CHANNELS,
  FAULT_CLASSES,
  FAULT_METRICS,
  FAULT_WINDOW,
  FaultScorer,
  ForecastScorer,
  HORIZONS,
  type ModelCard,
  QUANTILES,
  REFERENCE_CHANNELS,
  REFERENCE_WIDTHS,
  sha256,
  TARGETS,
  WINDOW_HOURS,
} from '@sensormesh/models';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import * as ort from 'onnxruntime-node';
import { CardBody } from './model.ts';

const checkCard = TypeCompiler.Compile(CardBody);

/** What the predictor feeds a model and reads back: an uploaded graph must take exactly this. */
interface Port {
  name: string;
  type: string;
  shape: (number | string)[];
  order?: readonly string[];
  optional?: boolean;
  /** Other shapes the port may have (older models' reference: fewer channels). */
  shapes?: (number | string)[][];
  /** The declared order, if any, must be the first channels of this list (as many as the last dimension). */
  orderPrefixOf?: readonly string[];
}
const CONTRACT: Record<ModelCard['task'], { inputs: Port[]; outputs: Port[] }> = {
  forecast: {
    inputs: [
      { name: 'window', type: 'float32', shape: ['N', WINDOW_HOURS, CHANNELS.length], order: CHANNELS },
      { name: 'origin_hour', type: 'float32', shape: ['N', 1] },
      // The network reference: PM2.5 and PM10 medians and the network's weather; older graphs take
      // the PM channels alone or run without it. The predictor feeds the channels a model declares.
      {
        name: 'reference',
        type: 'float32',
        shape: ['N', WINDOW_HOURS, REFERENCE_CHANNELS.length],
        shapes: REFERENCE_WIDTHS.map((width) => ['N', WINDOW_HOURS, width]),
        orderPrefixOf: REFERENCE_CHANNELS,
        optional: true,
      },
    ],
    outputs: [
      {
        name: 'forecast',
        type: 'float32',
        shape: ['N', TARGETS.length, HORIZONS, QUANTILES.length],
        order: TARGETS,
      },
    ],
  },
  faults: {
    inputs: [
      { name: 'values', type: 'float32', shape: ['N', FAULT_WINDOW] },
      { name: 'reference', type: 'float32', shape: ['N', FAULT_WINDOW] },
      { name: 'metric', type: 'int64', shape: ['N'], order: FAULT_METRICS },
    ],
    outputs: [{ name: 'probabilities', type: 'float32', shape: ['N', FAULT_CLASSES.length] }],
  },
};

function invalid(message: string, details?: unknown): AppError {
  return new AppError('VALIDATION_FAILED', message, { details });
}

const sameShape = (a: readonly (number | string)[], b: readonly (number | string)[]) =>
  a.length === b.length && a.every((d, i) => (typeof d === 'string' ? typeof b[i] === 'string' : d === b[i]));

/** Parses and checks a card's JSON against the card schema; 422 naming every problem. */
export function parseCard(text: string): ModelCard {
  let card: unknown;
  try {
    card = JSON.parse(text);
  } catch (error) {
    throw invalid('the card is not JSON', { reason: String(error) });
  }
  if (!checkCard.Check(card)) {
    const details = [...checkCard.Errors(card)]
      .slice(0, 20)
      .map((e) => ({ path: e.path, message: e.message }));
    throw invalid('the card does not match the model card schema', details);
  }
  return card as unknown as ModelCard;
}

/** A card's ports must be the contract's, in name, type, shape and channel order. */
function checkCardPorts(card: ModelCard): void {
  const contract = CONTRACT[card.task];
  for (const side of ['inputs', 'outputs'] as const) {
    const declared = card[side];
    for (const port of contract[side]) {
      const found = declared.find((p) => p.name === port.name);
      if (!found) {
        if (port.optional) continue;
        throw invalid(
          `card ${side}: no ${port.name} (a ${card.task} model takes ${contract[side].map((p) => p.name).join(', ')})`,
        );
      }
      const shapes = port.shapes ?? [port.shape];
      if (found.type !== port.type || !shapes.some((shape) => sameShape(found.shape, shape))) {
        throw invalid(
          `card ${side}: ${port.name} must be ${port.type} ${shapes.map((shape) => `[${shape.join(', ')}]`).join(' or ')}`,
          { declared: { type: found.type, shape: found.shape } },
        );
      }
      const prefix = port.orderPrefixOf?.slice(0, Number(found.shape[found.shape.length - 1]));
      if (prefix && found.order && JSON.stringify(found.order) !== JSON.stringify(prefix)) {
        throw invalid(`card ${side}: ${port.name} order must be ${prefix.join(', ')}`, {
          declared: found.order,
        });
      }
      if (port.order && JSON.stringify(found.order ?? []) !== JSON.stringify(port.order)) {
        throw invalid(`card ${side}: ${port.name} order must be ${port.order.join(', ')}`, {
          declared: found.order,
        });
      }
    }
    const extra = declared.filter((p) => !contract[side].some((c) => c.name === p.name));
    if (extra.length > 0) throw invalid(`card ${side}: unknown ${extra.map((p) => p.name).join(', ')}`);
  }
}

/** The graph's own ports must be the card's. */
function checkGraphPorts(card: ModelCard, session: ort.InferenceSession): void {
  for (const [side, meta] of [
    ['inputs', session.inputMetadata],
    ['outputs', session.outputMetadata],
  ] as const) {
    const graphNames = meta.map((m) => m.name).sort();
    const cardNames = card[side].map((p) => p.name).sort();
    if (JSON.stringify(graphNames) !== JSON.stringify(cardNames)) {
      throw invalid(
        `the graph's ${side} (${graphNames.join(', ')}) are not the card's (${cardNames.join(', ')})`,
      );
    }
    for (const m of meta) {
      const port = card[side].find((p) => p.name === m.name) as ModelCard['inputs'][number];
      if (!m.isTensor || m.type !== port.type || !sameShape(m.shape, port.shape)) {
        throw invalid(`the graph's ${m.name} does not match the card`, {
          graph: m.isTensor ? { type: m.type, shape: m.shape } : { tensor: false },
          card: { type: port.type, shape: port.shape },
        });
      }
    }
  }
}

/** A test run on a plausible window: every output finite, quantiles ordered, probabilities summing to 1. */
async function testRun(card: ModelCard, bytes: Uint8Array): Promise<void> {
  const plausible = [35, 60, 10, 40, 800, 50, 10, 1010, 0, 0, 2, 180];
  if (card.task === 'forecast') {
    const scorer = await ForecastScorer.load(bytes);
    try {
      const values = Array.from({ length: WINDOW_HOURS }, () => CHANNELS.map((_, c) => plausible[c] ?? 1));
      const [forecast] = await scorer.score([{ originTs: Date.UTC(2024, 0, 1), values }]);
      for (const target of TARGETS) {
        for (const step of forecast?.[target] ?? []) {
          if (
            ![step.p10, step.p50, step.p90].every(Number.isFinite) ||
            step.p10 > step.p50 ||
            step.p50 > step.p90
          ) {
            throw invalid(`test run: ${target} forecast is not finite and ordered (p10 ≤ p50 ≤ p90)`, step);
          }
        }
      }
    } finally {
      await scorer.release();
    }
    return;
  }
  const threshold = Number((card.details as { threshold?: unknown }).threshold);
  if (!(threshold > 0 && threshold < 1)) throw invalid('card details.threshold must be in (0, 1)');
  const scorer = await FaultScorer.load(bytes, threshold);
  try {
    const verdicts = await scorer.score(
      FAULT_METRICS.map((metric, m) => ({
        metric,
        values: Array.from({ length: FAULT_WINDOW }, () => plausible[m] ?? 1),
      })),
    );
    for (const verdict of verdicts) {
      const sum = Object.values(verdict.probabilities).reduce((a, b) => a + b, 0);
      if (!Number.isFinite(sum) || Math.abs(sum - 1) > 1e-3) {
        throw invalid('test run: fault probabilities do not sum to 1', verdict.probabilities);
      }
    }
  } finally {
    await scorer.release();
  }
}

/**
 * Everything an uploaded model must pass before it may be registered: the card parses and names
 * the predictor's contract, the bytes hash to the card's sha256, the bytes are an ONNX graph
 * onnxruntime loads, the graph's inputs and outputs are the card's, and a test run gives sane
 * outputs. Any failure is a 422 naming it; nothing is stored.
 */
export async function validateUpload(
  bytes: Uint8Array,
  cardText: string,
): Promise<{ card: ModelCard; hash: string }> {
  const card = parseCard(cardText);
  checkCardPorts(card);
  const hash = sha256(bytes);
  if (hash !== card.sha256)
    throw invalid('the file’s sha256 is not the card’s', { file: hash, card: card.sha256 });
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (error) {
    throw invalid('the file is not an ONNX model onnxruntime can load', {
      reason: error instanceof Error ? error.message.slice(0, 300) : String(error),
    });
  }
  try {
    checkGraphPorts(card, session);
  } finally {
    await session.release();
  }
  try {
    await testRun(card, bytes);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw invalid('test run failed', {
      reason: error instanceof Error ? error.message.slice(0, 300) : String(error),
    });
  }
  return { card, hash };
}
