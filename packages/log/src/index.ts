import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';

/** A structured JSON-lines logger; `child({ requestId })` tags every line after it. */
export type Logger = PinoLogger;

/** Log levels, quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** One of the supported log levels. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options for a process's root logger. */
export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where lines go; stdout by default. Tests pass a collecting stream. */
  destination?: DestinationStream;
}

/** Creates a process's root logger: one JSON object per line with time, level, service and msg. */
export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.errWithCause },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that drops everything, for library defaults and quiet tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
