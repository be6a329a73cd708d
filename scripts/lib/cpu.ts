/**
 * CPU time of processes from /proc (Linux), for benches on a shared machine: wall-clock rates move
 * with whatever else runs, CPU-seconds per message much less so.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ: 100 on every Linux architecture Bun runs on

/** User + system CPU seconds a process has used so far (its threads included); 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** The first process whose command line (arguments joined by spaces) contains `needle`. */
export function findPid(needle: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

/** CPU seconds of named processes between `start()` and `stop()`. */
export function cpuMeter(pids: Record<string, number | undefined>) {
  const from = new Map<string, number>();
  for (const [name, pid] of Object.entries(pids)) if (pid) from.set(name, cpuSeconds(pid));
  return {
    /** Seconds used by each process since the meter was made (read before a process exits). */
    read(): Record<string, number> {
      const used: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids))
        if (pid) used[name] = Number((cpuSeconds(pid) - (from.get(name) ?? 0)).toFixed(2));
      return used;
    },
  };
}

/** Per component: CPU seconds and µs per message, plus the total against the cores' budget. */
export function cpuReport(used: Record<string, number>, messages: number, wallSeconds: number) {
  const total = Object.values(used).reduce((sum, s) => sum + s, 0);
  const perMessageUs = Object.fromEntries(
    Object.entries(used).map(([name, s]) => [name, Number(((s / messages) * 1e6).toFixed(1))]),
  );
  return {
    seconds: used,
    usPerMessage: perMessageUs,
    totalUsPerMessage: Number(((total / messages) * 1e6).toFixed(1)),
    /** Share of the machine's cores used over the phase (2 cores fully busy = 1). */
    busy: Number((total / wallSeconds / navigator.hardwareConcurrency).toFixed(2)),
  };
}
