import { randomBytes } from 'node:crypto';
import os from 'node:os';
import postgres from 'postgres';

/** One scenario's result: the subject against a baseline measured alternately in the same run. */
export interface ScenarioResult {
  name: string;
  metric: string;
  unit: string;
  /** What the ratio must stay under (or over, when `higherIsBetter`). */
  target: string;
  higherIsBetter?: boolean;
  rounds: Array<{ baseline: number; subject: number; ratio: number }>;
  ratio: { median: number; min: number; max: number };
  pass: boolean;
  notes: string[];
}

export function summarize(
  name: string,
  p: {
    metric: string;
    unit: string;
    target: string;
    rounds: Array<{ baseline: number; subject: number }>;
    pass: (median: number, rounds: Array<{ baseline: number; subject: number; ratio: number }>) => boolean;
    higherIsBetter?: boolean;
    notes?: string[];
  },
): ScenarioResult {
  const rounds = p.rounds.map((r) => ({ ...r, ratio: r.baseline > 0 ? r.subject / r.baseline : Number.NaN }));
  const ratios = rounds.map((r) => r.ratio).sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)] ?? Number.NaN;
  return {
    name,
    metric: p.metric,
    unit: p.unit,
    target: p.target,
    higherIsBetter: p.higherIsBetter,
    rounds,
    ratio: { median, min: ratios[0] ?? Number.NaN, max: ratios.at(-1) ?? Number.NaN },
    pass: p.pass(median, rounds),
    notes: p.notes ?? [],
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
  };
}

/** A throwaway database on the benchmark's Postgres server. */
export async function scratchDatabase(baseUrl: string) {
  const name = `wcb_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
