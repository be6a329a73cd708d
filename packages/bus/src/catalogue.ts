import type { Static, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import type { ValidationIssue } from './errors.ts';

/** How often a failing message is retried before it is dead-lettered, and how long to wait between. */
export interface RetryPolicy {
  /** Deliveries (first one included) before the message goes to the dlq. */
  maxAttempts: number;
  /** Wait before retry n is `backoffMs × n`. */
  backoffMs: number;
}

/** What the trimmer may drop once every group has consumed it; the stricter limit wins. */
export interface TrimPolicy {
  maxAgeMs?: number;
  maxLen?: number;
}

/** What `defineStream` takes. */
export interface StreamSpec<S extends TSchema, G extends string> {
  name: string;
  schema: S;
  groups: readonly G[];
  retry: RetryPolicy;
  trim: TrimPolicy;
}

/** A stream of the catalogue: its name, message schema (compiled once), groups and policies. */
export interface StreamDef<S extends TSchema = TSchema, G extends string = string> {
  readonly name: string;
  readonly schema: S;
  readonly groups: readonly G[];
  readonly retry: Readonly<RetryPolicy>;
  readonly trim: Readonly<TrimPolicy>;
  readonly check: TypeCheck<S>;
}

/** The message type a stream carries. */
export type MessageOf<D> = D extends StreamDef<infer S, string> ? Static<S> : never;

/** The consumer group names a stream declares. */
export type GroupOf<D> = D extends StreamDef<TSchema, infer G> ? G : never;

const MAX_ISSUES = 10;

/** Declares a stream; its schema is compiled here, once, so every check is the fast compiled one. */
export function defineStream<S extends TSchema, const G extends string>(
  spec: StreamSpec<S, G>,
): StreamDef<S, G> {
  if (!Number.isInteger(spec.retry.maxAttempts) || spec.retry.maxAttempts < 1) {
    throw new Error(`stream ${spec.name}: retry.maxAttempts must be an integer >= 1`);
  }
  return Object.freeze({
    name: spec.name,
    schema: spec.schema,
    groups: Object.freeze([...spec.groups]),
    retry: Object.freeze({ ...spec.retry }),
    trim: Object.freeze({ ...spec.trim }),
    check: TypeCompiler.Compile(spec.schema),
  });
}

/** Lists why `value` does not match the stream's schema (at most 10 issues); empty when it does. */
export function validationIssues(def: StreamDef, value: unknown, index?: number): ValidationIssue[] {
  if (def.check.Check(value)) return [];
  const issues: ValidationIssue[] = [];
  for (const error of def.check.Errors(value)) {
    issues.push(
      index === undefined
        ? { path: error.path, message: error.message }
        : { index, path: error.path, message: error.message },
    );
    if (issues.length >= MAX_ISSUES) break;
  }
  return issues;
}
