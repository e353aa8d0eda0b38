/**
 * `make bench-cep`: the CEP library against RxJS (virtual time) and a hand-written reducer, on
 * the same inputs, in one run. Node runs JavaScript on one core; the inputs are generated before
 * timing. For each implementation: one warm-up run, then REPS timed runs; the median counts.
 * The last line printed is one JSON object with every figure and ratio.
 */
import { cepPipeline, cepSequence, cepTimeout } from "./impl-cep.js";
import { handPipeline, handSequence, handTimeout } from "./impl-hand.js";
import { rxPipeline, rxSequence, rxTimeout } from "./impl-rxjs.js";
import { pipelineInputs, sequenceInputs, timeoutInputs } from "./workloads.js";
import type { Input } from "../../src/cep/index.js";

const REPS = Number(process.env.CEP_BENCH_REPS ?? 7);
const gc = (globalThis as { gc?: () => void }).gc;

interface Measured {
  eventsPerSec: number;
  outputs: number;
  events: number;
}

interface Contender<E> {
  run: (inputs: readonly Input<E>[]) => number;
  inputs: readonly Input<E>[];
  reps: number;
}

/**
 * Times the contenders in rounds (A, B, C, A, B, C, ...) rather than one after the other, so that
 * load from other processes on a shared machine weighs on all of them alike.
 */
function measureInterleaved<E>(contenders: readonly Contender<E>[]): Measured[] {
  const outputs = contenders.map((c) => c.run(c.inputs)); // warm-up, and the output counts
  const rates: number[][] = contenders.map(() => []);
  const rounds = Math.max(...contenders.map((c) => c.reps));
  for (let r = 0; r < rounds; r++) {
    contenders.forEach((c, i) => {
      if (r >= c.reps) return;
      gc?.();
      // CPU time of this process rather than wall time: the machine is shared, and other
      // processes' load should not count against whichever contender happened to run under it.
      const start = process.cpuUsage();
      const n = c.run(c.inputs);
      const used = process.cpuUsage(start);
      const seconds = (used.user + used.system) / 1e6;
      if (n !== outputs[i])
        throw new Error(`an implementation gave ${outputs[i]} outputs, then ${n}: not deterministic`);
      (rates[i] as number[]).push(c.inputs.length / seconds);
    });
  }
  return contenders.map((c, i) => {
    const sorted = (rates[i] as number[]).sort((a, b) => a - b);
    return {
      eventsPerSec: sorted[Math.floor(sorted.length / 2)] as number,
      outputs: outputs[i] as number,
      events: c.inputs.length,
    };
  });
}

interface Row {
  workload: string;
  cep: Measured;
  rxjs: Measured;
  hand: Measured;
  targetEventsPerSec: number;
  targetVsRxjs: number | null;
  targetVsHand: number | null;
}

function workload<E>(
  name: string,
  inputs: readonly Input<E>[],
  rxInputs: readonly Input<E>[],
  cep: (i: readonly Input<E>[]) => number,
  rx: (i: readonly Input<E>[]) => number,
  hand: (i: readonly Input<E>[]) => number,
  target: Pick<Row, "targetEventsPerSec" | "targetVsRxjs" | "targetVsHand">,
): Row {
  console.log(`measuring ${name} ...`);
  const [cepM, rxM, handM] = measureInterleaved<E>([
    { run: cep, inputs, reps: REPS },
    { run: rx, inputs: rxInputs, reps: Math.min(REPS, 3) },
    { run: hand, inputs, reps: REPS },
  ]) as [Measured, Measured, Measured];
  const row: Row = { workload: name, cep: cepM, rxjs: rxM, hand: handM, ...target };
  // RxJS runs over a prefix when it is too slow for the whole input; compare outputs on equal input.
  const check = rxInputs.length === inputs.length ? row.rxjs.outputs : rx(rxInputs);
  if (
    row.cep.outputs !== row.hand.outputs ||
    (rxInputs.length === inputs.length && check !== row.cep.outputs)
  )
    throw new Error(
      `${name}: implementations disagree (cep ${row.cep.outputs}, rxjs ${check}, hand ${row.hand.outputs})`,
    );
  if (rxInputs.length !== inputs.length && cep(rxInputs) !== check)
    throw new Error(`${name}: cep and rxjs disagree on the first ${rxInputs.length} inputs`);
  return row;
}

const timeoutAll = timeoutInputs(400_000);
const sequenceAll = sequenceInputs(600_000);
const rows: Row[] = [
  workload(
    "(a) map/filter/accumulate",
    pipelineInputs(2_000_000),
    pipelineInputs(2_000_000),
    cepPipeline,
    rxPipeline,
    handPipeline,
    {
      targetEventsPerSec: 1_000_000,
      targetVsRxjs: null,
      targetVsHand: null,
    },
  ),
  workload(
    "(b) per-key timeout, 10k keys",
    timeoutAll,
    timeoutAll.slice(0, 60_000),
    cepTimeout,
    rxTimeout,
    handTimeout,
    {
      targetEventsPerSec: 300_000,
      targetVsRxjs: 2,
      targetVsHand: 1 / 3,
    },
  ),
  workload(
    "(c) sequence in a window, 1k keys",
    sequenceAll,
    sequenceAll.slice(0, 100_000),
    cepSequence,
    rxSequence,
    handSequence,
    {
      targetEventsPerSec: 300_000,
      targetVsRxjs: 2,
      targetVsHand: 1 / 3,
    },
  ),
];

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const pad = (s: string, w: number): string => s.padStart(w);
const verdict = (ok: boolean): string => (ok ? "ok" : "MISSED");

console.log("");
console.log(
  `${"workload".padEnd(36)}${pad("cep ev/s", 13)}${pad("rxjs ev/s", 13)}${pad("hand ev/s", 13)}${pad("cep/rxjs", 10)}${pad("cep/hand", 10)}  targets`,
);
const summary = rows.map((r) => {
  const vsRx = r.cep.eventsPerSec / r.rxjs.eventsPerSec;
  const vsHand = r.cep.eventsPerSec / r.hand.eventsPerSec;
  const checks = [`≥${fmt(r.targetEventsPerSec)}/s ${verdict(r.cep.eventsPerSec >= r.targetEventsPerSec)}`];
  if (r.targetVsRxjs !== null) checks.push(`≥${r.targetVsRxjs}× rxjs ${verdict(vsRx >= r.targetVsRxjs)}`);
  if (r.targetVsHand !== null) checks.push(`≥1/3 hand ${verdict(vsHand >= r.targetVsHand)}`);
  console.log(
    `${r.workload.padEnd(36)}${pad(fmt(r.cep.eventsPerSec), 13)}${pad(fmt(r.rxjs.eventsPerSec), 13)}${pad(
      fmt(r.hand.eventsPerSec),
      13,
    )}${pad(vsRx.toFixed(2), 10)}${pad(vsHand.toFixed(2), 10)}  ${checks.join(", ")}`,
  );
  return {
    workload: r.workload,
    events: { cep: r.cep.events, rxjs: r.rxjs.events, hand: r.hand.events },
    outputs: { cep: r.cep.outputs, rxjs: r.rxjs.outputs, hand: r.hand.outputs },
    eventsPerSec: {
      cep: Math.round(r.cep.eventsPerSec),
      rxjs: Math.round(r.rxjs.eventsPerSec),
      hand: Math.round(r.hand.eventsPerSec),
    },
    ratios: { cepVsRxjs: Number(vsRx.toFixed(3)), cepVsHand: Number(vsHand.toFixed(3)) },
    targets: {
      eventsPerSec: r.targetEventsPerSec,
      vsRxjs: r.targetVsRxjs,
      vsHand: r.targetVsHand === null ? null : Number(r.targetVsHand.toFixed(3)),
    },
    met:
      r.cep.eventsPerSec >= r.targetEventsPerSec &&
      (r.targetVsRxjs === null || vsRx >= r.targetVsRxjs) &&
      (r.targetVsHand === null || vsHand >= r.targetVsHand),
  };
});
console.log(
  `(events per CPU second of this process; median of ${REPS} runs after a warm-up, ${Math.min(REPS, 3)} for RxJS, interleaved; RxJS runs (b) and (c) on a prefix of the inputs; ` +
    `${gc === undefined ? "no forced GC between runs" : "GC between runs"}; node ${process.version})`,
);
console.log(JSON.stringify({ benchmark: "cep", node: process.version, reps: REPS, results: summary }));
