import { join } from 'node:path';

/** The shared vendor payload examples (../shared/data/payloads, see FORMATS.md). */
export const PAYLOADS_DIR = new URL('../../../../../../../shared/data/payloads/', import.meta.url).pathname;

/** A payload example parsed as JSON: `payload('purpleair/02_get_sensor_verbatim.json')`. */
export async function payload(name: string): Promise<unknown> {
  const file = Bun.file(join(PAYLOADS_DIR, name));
  if (await file.exists()) return file.json();
  return Bun.file(new URL(name.replace('/', '-'), import.meta.url).pathname).json();
}

/** A recorded `.http` request (request line, headers, blank line, body) as a Request to `url`. */
export async function recordedRequest(name: string, url: string): Promise<Request> {
  const text = await Bun.file(join(PAYLOADS_DIR, name)).text();
  const [head = '', body = ''] = text.split(/\r?\n\r?\n/, 2);
  const headers = new Headers();
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    // app.handle has no socket: Host and Content-Length come from the Request itself.
    if (colon > 0 && name !== 'host' && name !== 'content-length')
      headers.set(name, line.slice(colon + 1).trim());
  }
  return new Request(url, { method: 'POST', headers, body: body.trim() });
}
