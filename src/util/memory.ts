/**
 * Peak resident memory of this process in MB. On Linux this is VmHWM of /proc/self/status: getrusage's
 * maxrss survives exec, so a child spawned from a large parent reports the parent's size (measured: a
 * 281 MB extraction child reported 1,339 MB when spawned after a GPT-2-sized benchmark in the same parent).
 */
import { readFileSync } from 'node:fs';

export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}
