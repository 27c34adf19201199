/**
 * A one-line progress bar on a terminal's stderr, redrawn in place; callers
 * create it only when stderr is a TTY and --json is off, so pipes and JSON
 * output never see it.
 */
export interface Progress {
  update(done: number, total: number, label: string): void;
  end(): void;
}

export function progressBar(stream: NodeJS.WriteStream, what: string): Progress {
  let last = "";
  return {
    update(done, total, label) {
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 40));
      const filled = total === 0 ? width : Math.round((done / total) * width);
      const line = `${what} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${label}`.slice(0, (stream.columns ?? 80) - 1);
      if (line === last) return;
      last = line;
      stream.write(`\r\x1b[2K${line}`);
    },
    end() {
      if (last) stream.write("\r\x1b[2K");
      last = "";
    },
  };
}

/** Run `work` with a progress bar on a terminal's stderr; never with --json or when stderr is piped. */
export async function withProgress<T>(what: string, json: boolean, work: (onProgress?: (done: number, total: number, label: string) => void) => Promise<T>): Promise<T> {
  const bar = !json && process.stderr.isTTY ? progressBar(process.stderr, what) : undefined;
  try {
    return await work(bar ? (done, total, label) => bar.update(done, total, label) : undefined);
  } finally {
    bar?.end();
  }
}
