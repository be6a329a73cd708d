import { AppError } from '@sensormesh/errors';

/** One reason a message does not match its stream's schema. */
export interface ValidationIssue {
  /** Position in the batch, for publishBatch. */
  index?: number;
  /** JSON pointer to the offending value, '' for the message itself. */
  path: string;
  message: string;
}

/**
 * Thrown when a message does not match its stream's schema; nothing was sent. It is an AppError
 * (VALIDATION_FAILED) so an HTTP producer can hand it straight to the error envelope.
 */
export class BusValidationError extends AppError {
  readonly stream: string;
  readonly issues: readonly ValidationIssue[];

  constructor(stream: string, issues: readonly ValidationIssue[]) {
    const first = issues[0];
    const where = first?.index === undefined ? '' : ` (message ${first.index})`;
    const summary = first ? `${first.path || '/'} ${first.message}${where}` : 'invalid message';
    super('VALIDATION_FAILED', `invalid message for stream ${stream}: ${summary}`, { details: issues });
    this.name = 'BusValidationError';
    this.stream = stream;
    this.issues = issues;
  }
}

/** Thrown when Redis refuses an XADD of a batch; `ids` holds what was written before the failure. */
export class BusPublishError extends Error {
  readonly stream: string;
  readonly ids: readonly (string | null)[];

  constructor(stream: string, ids: readonly (string | null)[], cause: unknown) {
    super(`publishing to stream ${stream} failed`, { cause });
    this.name = 'BusPublishError';
    this.stream = stream;
    this.ids = ids;
  }
}
