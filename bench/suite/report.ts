/** Tables, ratios and the targets' summary lines of the benchmark suite. */

import { availableParallelism, cpus, loadavg } from 'node:os';

/** Left-aligned first column, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '—');

/** One line of the summary: a target of the performance issue and how this run did against it. */
export interface Target {
  name: string;
  /** undefined: not measured in this run (a peer or measure left out). */
  met: boolean | undefined;
  figure: string;
}

export function summaryLine(t: Target): string {
  const verdict = t.met === undefined ? 'not measured' : t.met ? 'met' : 'MISSED';
  return `${verdict.padEnd(12)} ${t.name}: ${t.figure}`;
}

export function describeMachine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'})`;
}

/** Other work on the machine skews wall times most; the load average says how much there was. */
export function describeLoad(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

export const kib = (bytes: number): string => (bytes / 1024).toFixed(1);
