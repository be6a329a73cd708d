import { payloadTooLarge, readLimited } from '@sensormesh/http';
import { Elysia } from 'elysia';
import { parseQuery } from 'elysia/parse-query';

/** Form fields as Elysia gives them: one value, or an array when a name repeats. */
function formObject(form: Awaited<ReturnType<Response['formData']>>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const name of new Set(form.keys())) {
    const values = form.getAll(name);
    body[name] = values.length === 1 ? values[0] : values;
  }
  return body;
}

/** Parses bytes the way Elysia's default parsers would for this content type. */
async function parseBytes(bytes: Uint8Array, contentType: string, rawContentType: string): Promise<unknown> {
  const response = new Response(bytes, { headers: { 'content-type': rawContentType } });
  if (contentType === 'application/json' || contentType.endsWith('+json')) return response.json();
  if (contentType === 'application/x-www-form-urlencoded') return parseQuery(await response.text());
  if (contentType === 'multipart/form-data') return formObject(await response.formData());
  if (contentType.startsWith('text/')) return response.text();
  return response.arrayBuffer();
}

/**
 * Refuses request bodies over `maxBytes` with 413 PAYLOAD_TOO_LARGE, before any handler runs.
 * A declared Content-Length is checked on arrival (Bun's server holds the body to that length);
 * a body of unknown length (chunked, or `app.handle`, where Bun.serve's maxRequestBodySize never
 * applies) is read here up to the limit and parsed like Elysia's default parsers would.
 */
export function bodyLimit(maxBytes: number) {
  return new Elysia({ name: 'sensormesh.body-limit' })
    .onRequest(function refuseDeclaredOversize({ request }) {
      const declared = request.headers.get('content-length');
      if (declared !== null && Number(declared) > maxBytes) throw payloadTooLarge(maxBytes);
    })
    .onParse({ as: 'global' }, async function readUndeclaredBody({ request, contentType }) {
      if (!request.body || request.headers.has('content-length')) return;
      // Reading a clone instead would leave Bun's server waiting on the untouched original stream.
      const bytes = await readLimited(request.body, maxBytes);
      return parseBytes(bytes, contentType, request.headers.get('content-type') ?? '');
    });
}
