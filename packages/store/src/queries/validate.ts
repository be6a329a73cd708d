import { AppError } from '@sensormesh/errors';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/** Compiles a parameter schema into a checker that throws VALIDATION_FAILED with every error. */
export function paramsChecker<S extends TSchema>(name: string, schema: S): (value: unknown) => Static<S> {
  const compiled = TypeCompiler.Compile(schema);
  return function checkParams(value: unknown): Static<S> {
    if (compiled.Check(value)) return value;
    const details = [...compiled.Errors(value)].slice(0, 20).map((error) => ({
      path: error.path,
      message: error.message,
    }));
    throw new AppError('VALIDATION_FAILED', `invalid parameters for ${name}`, { details });
  };
}
