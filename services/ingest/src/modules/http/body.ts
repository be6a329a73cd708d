import { AppError } from '@sensormesh/errors';
import { payloadTooLarge, readLimited } from '@sensormesh/http';

/** True for application/json and any +json type, parameters (charset) aside. */
export function isJsonType(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json');
}

/** Reads the body up to `maxBytes`, cancelling the stream (413) as soon as it passes the limit. */
async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  // A declared length is checked before a byte is read; readLimited catches liars and chunked bodies.
  if (declared !== null && Number(declared) > maxBytes) throw payloadTooLarge(maxBytes);
  return request.body ? readLimited(request.body, maxBytes) : new Uint8Array();
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
  const bytes = await readBody(request, maxBytes);
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
