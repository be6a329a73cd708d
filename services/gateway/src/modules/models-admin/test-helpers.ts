import { sha256 } from '@sensormesh/models';
import type { TestGateway } from '../../test-support/gateway.ts';

/** The repo's trained models (what the predictor seeds). */
export const MODELS_DIR = new URL('../../../../../models', import.meta.url).pathname;

/** A model file of models/ and its card as text. */
export async function repoModel(task: 'forecast' | 'faults') {
  const bytes = new Uint8Array(await Bun.file(`${MODELS_DIR}/${task}.onnx`).arrayBuffer());
  const card = JSON.parse(await Bun.file(`${MODELS_DIR}/${task}.card.json`).text()) as Record<
    string,
    unknown
  >;
  return { bytes, card };
}

/** The card re-versioned (and re-hashed for other bytes), as a retrained or hand-made model would be. */
export function cardFor(card: Record<string, unknown>, changes: { version?: string; bytes?: Uint8Array }) {
  return JSON.stringify({
    ...card,
    ...(changes.version ? { version: changes.version } : {}),
    ...(changes.bytes ? { sha256: sha256(changes.bytes) } : {}),
  });
}

/** POST /admin/models as multipart/form-data. */
export async function upload(gw: TestGateway, token: string | undefined, bytes: Uint8Array, card: string) {
  const form = new FormData();
  form.set('model', new File([bytes], 'model.onnx', { type: 'application/octet-stream' }));
  form.set('card', card);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const response = await gw.app.handle(
    new Request('http://localhost/api/v1/admin/models', { method: 'POST', headers, body: form }),
  );
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: assertions read the JSON loosely
  return { status: response.status, json: (text ? JSON.parse(text) : undefined) as Record<string, any> };
}
