import {
  FormatRegistry,
  OptionalKind,
  type Static,
  type TObject,
  type TProperties,
  type TSchema,
  Type as t,
} from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

FormatRegistry.Set('url', (value) => URL.canParse(value));

/** Schema builders for environment variables (all arrive as strings and are converted). */
export const env = {
  string: (options: { default?: string; minLength?: number; pattern?: string; description?: string } = {}) =>
    t.String({ minLength: 1, ...options }),
  url: (options: { default?: string; description?: string } = {}) => t.String({ format: 'url', ...options }),
  port: (options: { default?: number; description?: string } = {}) =>
    t.Integer({ minimum: 1, maximum: 65_535, ...options }),
  int: (options: { default?: number; minimum?: number; maximum?: number; description?: string } = {}) =>
    t.Integer(options),
  number: (options: { default?: number; minimum?: number; maximum?: number; description?: string } = {}) =>
    t.Number(options),
  bool: (options: { default?: boolean; description?: string } = {}) => t.Boolean(options),
  oneOf: <const V extends string>(
    values: readonly V[],
    options: { default?: V; description?: string } = {},
  ) =>
    t.Union(
      values.map((value) => t.Literal(value)),
      options,
    ),
  optional: <S extends TSchema>(schema: S) => t.Optional(schema),
};

/** Builds the schema of a service's environment from its variables. */
export function defineEnv<P extends TProperties>(properties: P): TObject<P> {
  return t.Object(properties);
}

/** One environment variable that is missing or malformed. */
export interface EnvIssue {
  variable: string;
  message: string;
}

/** Thrown by parseEnv with every bad variable, not just the first. */
export class EnvError extends Error {
  constructor(readonly issues: EnvIssue[]) {
    super(
      `invalid environment:\n${issues.map((issue) => `  ${issue.variable}: ${issue.message}`).join('\n')}`,
    );
    this.name = 'EnvError';
  }
}

const SECRET_NAME = /SECRET|PASSWORD|TOKEN|KEY/i;

function describeValue(variable: string, raw: string): string {
  return SECRET_NAME.test(variable) ? '(value hidden)' : JSON.stringify(raw);
}

function isOptional(schema: TSchema): boolean {
  return OptionalKind in schema;
}

function parseOne(
  variable: string,
  schema: TSchema,
  raw: string | undefined,
): { value?: unknown; issue?: string } {
  if (raw === undefined || raw === '') {
    if (schema.default !== undefined) return { value: schema.default };
    if (isOptional(schema)) return {};
    return { issue: 'is required but not set' };
  }
  const converted = Value.Convert(schema, raw.trim());
  if (Value.Check(schema, converted)) return { value: converted };
  const first = Value.Errors(schema, converted).First();
  const expected =
    schema.format === 'url' ? 'a URL' : (first?.message ?? 'a valid value').replace(/^Expected /, '');
  return { issue: `must be ${expected}, got ${describeValue(variable, raw)}` };
}

/** Parses `source` against the schema; throws EnvError listing every bad variable. */
export function parseEnv<P extends TProperties>(
  schema: TObject<P>,
  source: Record<string, string | undefined> = process.env,
): Static<TObject<P>> {
  const result: Record<string, unknown> = {};
  const issues: EnvIssue[] = [];
  for (const [variable, propertySchema] of Object.entries(schema.properties)) {
    const { value, issue } = parseOne(variable, propertySchema, source[variable]);
    if (issue) issues.push({ variable, message: issue });
    else if (value !== undefined) result[variable] = value;
  }
  if (issues.length > 0) throw new EnvError(issues);
  return result as Static<TObject<P>>;
}

/**
 * Parses the process environment once at start-up; on failure writes every bad variable to stderr
 * and exits non-zero, so a misconfigured process never half-starts.
 */
export function loadEnv<P extends TProperties>(
  schema: TObject<P>,
  source: Record<string, string | undefined> = process.env,
  /** Rules across variables, run once each variable is valid; reported like a malformed one. */
  check?: (config: Static<TObject<P>>) => EnvIssue[],
): Static<TObject<P>> {
  try {
    const config = parseEnv(schema, source);
    const issues = check?.(config) ?? [];
    if (issues.length > 0) throw new EnvError(issues);
    return config;
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', msg: 'invalid environment', issues: error.issues })}\n`,
    );
    process.stderr.write(`${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
}
