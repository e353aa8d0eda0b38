// Structured JSON logs for machines, a readable form for people at a terminal.
// HALON_LOG_FORMAT=json|pretty overrides the choice; HALON_LOG_LEVEL sets the level.
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  name: string;
  level?: string;
  pretty?: boolean;
  /** Where JSON lines go; stdout by default. */
  destination?: NodeJS.WritableStream;
}

export function wantsPretty(env: NodeJS.ProcessEnv = process.env, isTty = Boolean(process.stdout.isTTY)) {
  if (env.HALON_LOG_FORMAT === "json") return false;
  if (env.HALON_LOG_FORMAT === "pretty") return true;
  return isTty;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.HALON_LOG_LEVEL ?? "info";
  const usePretty = options.pretty ?? wantsPretty();
  const base = { name: options.name, level, timestamp: pino.stdTimeFunctions.isoTime };
  if (usePretty) {
    return pino(
      base,
      pretty({ sync: true, colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname" }),
    );
  }
  return pino(base, options.destination ?? pino.destination({ sync: false }));
}
