/** The single field every entry carries: the message as JSON. One field keeps XADD and decode cheap. */
export const MESSAGE_FIELD = 'm';

/** Finds the message field among an entry's [field, value, ...] pairs. */
export function messageField(fields: readonly string[] | null): string | undefined {
  if (!fields) return undefined;
  if (fields[0] === MESSAGE_FIELD) return fields[1];
  for (let i = 2; i < fields.length; i += 2) if (fields[i] === MESSAGE_FIELD) return fields[i + 1];
  return undefined;
}

/** Renders an entry's fields as the dlq's `payload` when the message field is missing. */
export function rawPayload(fields: readonly string[] | null): string {
  return messageField(fields) ?? JSON.stringify(fields ?? null);
}
