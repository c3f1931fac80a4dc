import winston from 'winston';

/** Fields every log line may carry: the object a line is about, so logs can be filtered by key. */
export interface LogFields {
  kind?: string;
  namespace?: string;
  name?: string;
  [key: string]: unknown;
}

export type Logger = winston.Logger;

/**
 * Structured JSON logs on stderr (stdout belongs to command output). The level comes from
 * SHADOWKEEP_LOG_LEVEL so an operator can turn on debug without a rebuild.
 */
export function createLogger(component: string, level = process.env.SHADOWKEEP_LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [
      new winston.transports.Console({
        stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'],
      }),
    ],
  });
}
