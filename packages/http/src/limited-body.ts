import { AppError } from '@sensormesh/errors';

/** The 413 every service answers for a body over its limit. */
export const payloadTooLarge = (maxBytes: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `the request body exceeds ${maxBytes} bytes`, { details: { maxBytes } });

/** Reads a body stream to its end, or cancels it and throws PAYLOAD_TOO_LARGE once it passes `maxBytes`. */
export async function readLimited(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw payloadTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
