import { AppError } from '@sensormesh/errors';

const tooLarge = (maxBytes: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `the request body exceeds ${maxBytes} bytes`, { details: { maxBytes } });

/** True for application/json and any +json type, parameters (charset) aside. */
export function isJsonType(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json');
}

/** Reads the body up to `maxBytes`, cancelling the stream (413) as soon as it passes the limit. */
async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  // A declared length is checked before a byte is read; the count below catches liars and chunked bodies.
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The request's JSON body: 415 unless the content type is JSON, 413 over `maxBytes` (declared or
 * read), 400 when it is empty, not UTF-8 or not JSON. Run before anything is stored.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  if (!isJsonType(request.headers.get('content-type'))) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send readings as application/json', {
      details: { contentType: request.headers.get('content-type') ?? '' },
    });
  }
  const bytes = await readLimited(request, maxBytes);
  if (bytes.byteLength === 0) throw new AppError('BAD_REQUEST', 'the request body is empty');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new AppError('BAD_REQUEST', 'the request body is not UTF-8', { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError('BAD_REQUEST', 'the request body is not valid JSON', {
      details: { reason: error instanceof Error ? error.message : String(error) },
      cause: error,
    });
  }
}
