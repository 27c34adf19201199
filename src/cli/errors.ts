/**
 * The one error type skycert raises on purpose. Its message is a single line
 * that names the input at fault (file and line, flag, or path); `remedy` says
 * what to run or change. Anything else reaching the top level is a bug.
 */
export type ExitCode = 0 | 1 | 2;

/** 1: the operation failed; 2: the command line or an input it names is unusable. */
export type FailureCode = 1 | 2;

export class SkycertError extends Error {
  readonly exitCode: FailureCode;
  readonly remedy: string | undefined;

  constructor(message: string, options: { exitCode?: FailureCode; remedy?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SkycertError";
    this.exitCode = options.exitCode ?? 1;
    this.remedy = options.remedy;
  }
}

/** Bad flags, or an input file that cannot be read or parsed: exit 2. */
export function usageError(message: string, remedy?: string): SkycertError {
  return new SkycertError(message, { exitCode: 2, remedy });
}

/** The operation could not be completed: exit 1. */
export function failure(message: string, remedy?: string): SkycertError {
  return new SkycertError(message, { exitCode: 1, remedy });
}

/** A position in an input file, for messages of the form `file:line: ...`. */
export interface Where {
  file: string;
  line: number;
}

export function at(where: Where | undefined, message: string): string {
  return where ? `${where.file}:${where.line}: ${message}` : message;
}

/**
 * Text made safe for a one-line message: line breaks, other control characters,
 * and the Unicode line separators and bidi overrides that could forge or hide
 * output are shown escaped. Long text loses its middle, so a message keeps both
 * what it quotes first and what it says last.
 */
export function printable(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, Math.ceil(max * 0.7))}...${text.slice(text.length - Math.floor(max * 0.3))}` : text;
  return cut.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** The one stderr line of a run in which some of many items failed (the others are done and listed above). */
export function someFailed(items: readonly { name: string; status: string; reason?: string; remedy?: string }[], noun: string, remedy: string): SkycertError | undefined {
  const failed = items.filter((i) => i.status === "failed");
  const first = failed[0];
  if (!first) return undefined;
  return failure(`${failed.length} of ${items.length} ${noun} failed; ${first.name}: ${first.reason}${failed.length > 1 ? ` (and ${failed.length - 1} more, listed above)` : ""}`, first.remedy ?? remedy);
}
