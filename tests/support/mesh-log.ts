/** One JSON log line of the mesh (the fields the tests read). */
export interface LogLine {
  msg: string;
  url?: string;
  pid?: number;
  published?: number;
  hours?: number;
}

/**
 * Reads a child process's JSON log lines as they come. `next` resolves with the first line, seen
 * already or still to come, whose message is `msg` (or that `match` accepts): tests wait for an
 * event the mesh logs, never for a time.
 */
export function watchLog(stream: ReadableStream<Uint8Array>) {
  const lines: LogLine[] = [];
  const waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  void (async () => {
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      const parts = text.split('\n');
      text = parts.pop() ?? '';
      for (const part of parts.filter((p) => p.startsWith('{'))) {
        const line = JSON.parse(part) as LogLine;
        lines.push(line);
        for (const waiter of waiters) if (waiter.match(line)) waiter.resolve(line);
      }
    }
  })();
  const next = (wanted: string | ((line: LogLine) => boolean)) =>
    new Promise<LogLine>((resolve) => {
      const match = typeof wanted === 'string' ? (line: LogLine) => line.msg === wanted : wanted;
      const seen = lines.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  return { lines, next };
}
