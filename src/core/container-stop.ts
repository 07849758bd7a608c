import type { ContainerDetails } from './docker-resources.js';

/** The engine's stop grace period when neither the container nor the request sets one. */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 10;

const SHELLS: ReadonlySet<string> = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh', 'mksh']);

/** Signals that mean "terminate" to a shell: the ones it leaves to their default action, which PID 1 has none of. */
const TERM_SIGNALS: ReadonlySet<string> = new Set(['', 'SIGTERM', 'TERM', '15']);

export interface StopSettings {
  /** Seconds the engine waits for the process to exit on its stop signal before it kills it. */
  graceSeconds: number;
  /** Where the grace period comes from. */
  graceFrom: 'container' | 'request' | 'default';
  stopSignal: string;
}

/**
 * How the engine stops a container: its stop signal, then a kill once the grace period ran out — the request's
 * `stopTimeoutSeconds` when given, else the container's own stop timeout, else Docker's 10 s.
 */
export function stopSettings(details: ContainerDetails | undefined, requestSeconds?: number): StopSettings {
  const config = (details?.raw.Config ?? {}) as { StopTimeout?: unknown; StopSignal?: unknown };
  const own =
    typeof config.StopTimeout === 'number' && config.StopTimeout >= 0 ? config.StopTimeout : undefined;
  const stopSignal =
    typeof config.StopSignal === 'string' && config.StopSignal !== '' ? config.StopSignal : 'SIGTERM';
  if (requestSeconds !== undefined) return { graceSeconds: requestSeconds, graceFrom: 'request', stopSignal };
  if (own !== undefined) return { graceSeconds: own, graceFrom: 'container', stopSignal };
  return { graceSeconds: DEFAULT_STOP_TIMEOUT_SECONDS, graceFrom: 'default', stopSignal };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * The shell command a container runs as its main process (PID 1), when it runs one: `sh -c "…"` (a Dockerfile's
 * shell form, or an explicit one) or `sh script.sh`. A shell as PID 1 has no default action for SIGTERM and
 * installs no handler of its own, so it ignores the signal unless the script traps it or execs the service in its
 * place; the engine then waits the whole grace period and kills it. Undefined when PID 1 is not a shell that would
 * ignore its stop signal: another program, a stop signal other than SIGTERM, an init process in front (--init), a
 * script that traps SIGTERM (other than to ignore it) or execs.
 */
export function shellIgnoringStopSignal(details: ContainerDetails | undefined): string | undefined {
  if (!details) return undefined;
  const config = (details.raw.Config ?? {}) as { Entrypoint?: unknown; Cmd?: unknown; StopSignal?: unknown };
  const hostConfig = (details.raw.HostConfig ?? {}) as { Init?: unknown };
  if (hostConfig.Init === true) return undefined;
  const signal = typeof config.StopSignal === 'string' ? config.StopSignal.toUpperCase() : '';
  if (!TERM_SIGNALS.has(signal)) return undefined;
  const argv = [...strings(config.Entrypoint), ...strings(config.Cmd)];
  const program = argv[0]?.split('/').pop() ?? '';
  if (!SHELLS.has(program)) return undefined;
  const flag = argv[1] ?? '';
  const script = /^-[a-z]*c[a-z]*$/.test(flag) ? (argv[2] ?? '') : '';
  if (script === '' && (argv.length === 1 || flag.startsWith('-'))) return undefined; // an interactive shell, or unknown
  const ignoresTerm = /\btrap\s+(''|"")\s+[^;&|\n]*\b(SIG)?(TERM|15)\b/.test(script);
  if (!ignoresTerm && (/\btrap\b/.test(script) || /(^|[;&|(\n])\s*exec\s/.test(script))) return undefined;
  return argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
}
