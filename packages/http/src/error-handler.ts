import { AppError, ERROR_STATUS, type ErrorCode, errorEnvelope, isAppError } from '@sensormesh/errors';
import type { Logger } from '@sensormesh/log';
import { Elysia } from 'elysia';
import { requestIdOf } from './request-context.ts';

interface ValidationLike {
  all?: Array<{ path?: string; summary?: string; message?: string }>;
  message: string;
}

function validationDetails(error: ValidationLike) {
  return (error.all ?? []).slice(0, 20).map((issue) => ({
    path: issue.path ?? '',
    message: issue.summary ?? issue.message ?? 'invalid',
  }));
}

const FRAMEWORK_CODES: Record<string, { code: ErrorCode; message: string }> = {
  NOT_FOUND: { code: 'NOT_FOUND', message: 'no such route' },
  PARSE: { code: 'BAD_REQUEST', message: 'the request body could not be parsed' },
  INVALID_COOKIE_SIGNATURE: { code: 'UNAUTHORIZED', message: 'invalid cookie signature' },
  INVALID_FILE_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported file type' },
};

/**
 * Answers every error with the envelope {error: {code, message, details?, requestId}}: AppErrors
 * by their code, Elysia's validation and parse errors as 422/400, anything else as a logged 500
 * whose message never leaks internals.
 */
export function errorHandler(logger: Logger) {
  return new Elysia({ name: 'sensormesh.error-handler' })
    .error({ AppError })
    .onError({ as: 'global' }, function renderError({ code, error: thrown, request, set }) {
      const requestId = requestIdOf(request);
      set.headers['content-type'] = 'application/json';
      set.headers['x-request-id'] = requestId;
      // Elysia wraps whatever a parse hook throws in a ParseError; an AppError there (413) keeps its code.
      const cause = code === 'PARSE' ? (thrown as Error).cause : undefined;
      const error = isAppError(cause) ? cause : thrown;
      if (isAppError(error)) {
        set.status = error.status;
        for (const [name, value] of Object.entries(error.headers ?? {})) set.headers[name] = value;
        return error.toEnvelope(requestId);
      }
      if (code === 'VALIDATION') {
        set.status = 422;
        const details = validationDetails(error as unknown as ValidationLike);
        return errorEnvelope('VALIDATION_FAILED', 'the request is invalid', details, requestId);
      }
      const known = FRAMEWORK_CODES[String(code)];
      if (known) {
        set.status = ERROR_STATUS[known.code];
        return errorEnvelope(known.code, known.message, undefined, requestId);
      }
      logger.error({ requestId, err: error, url: request.url, method: request.method }, 'unhandled error');
      set.status = 500;
      return errorEnvelope('INTERNAL', 'internal error', undefined, requestId);
    });
}
