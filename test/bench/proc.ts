/** Sampling a child process from /proc (Linux): CPU ticks and peak RSS (VmHWM), for runs that may end by a kill. */
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ) on Linux. */
export const CLK_TCK = 100;

export function procSample(pid: number): { cpuTicks: number; hwmKb: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { cpuTicks: Number(f[11]) + Number(f[12]), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

/**
 * Sample `child` every 50 ms until `stop()`: returns the largest CPU ticks and VmHWM seen
 * (a last sample of the exited, zombie process has no VmHWM, so maxima, not the last value).
 */
export function sampleWhileRunning(pid: number): () => { cpuTicks: number; hwmKb: number } {
  let peak = { cpuTicks: 0, hwmKb: 0 };
  const timer = setInterval(() => {
    const s = procSample(pid);
    if (s) peak = { cpuTicks: Math.max(peak.cpuTicks, s.cpuTicks), hwmKb: Math.max(peak.hwmKb, s.hwmKb) };
  }, 50);
  return () => {
    clearInterval(timer);
    return peak;
  };
}
