import { ERROR_STATUS, type ErrorCode } from '@sensormesh/errors';
import { t } from 'elysia';

/** The error envelope as a schema, for route response documentation. */
export const ErrorResponse = t.Object(
  {
    error: t.Object({
      code: t.Union((Object.keys(ERROR_STATUS) as ErrorCode[]).map((code) => t.Literal(code))),
      message: t.String(),
      details: t.Optional(t.Unknown()),
      requestId: t.Optional(t.String()),
    }),
  },
  {
    description: 'Error envelope',
    examples: [{ error: { code: 'NOT_FOUND', message: 'no such sensor', requestId: '0190c2…' } }],
  },
);

/** Response entries for the given statuses, all the error envelope: `response: { 200: X, ...errorResponses(401, 403) }`. */
export function errorResponses<const S extends number>(...statuses: S[]): Record<S, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorResponse])) as Record<
    S,
    typeof ErrorResponse
  >;
}
