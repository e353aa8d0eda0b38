import {
  Subject,
  VirtualTimeScheduler,
  filter,
  groupBy,
  map,
  mergeMap,
  scan,
  switchMap,
  take,
  takeUntil,
  timer,
} from "rxjs";
import type { Input } from "../../src/cep/index.js";
import {
  PIPELINE_REPORT_EVERY,
  SILENCE,
  WINDOW,
  type Heartbeat,
  type Reading,
  type Step,
} from "./workloads.js";

/**
 * The same workloads in RxJS, with virtual time: a VirtualTimeScheduler is advanced to each
 * input's time (timers due by then run first, as in the engine) before the event is pushed.
 */

export function rxPipeline(inputs: readonly Input<Reading>[]): number {
  const subject = new Subject<Reading>();
  const out: number[] = [];
  subject
    .pipe(
      filter((r) => r.sensor % 2 === 0),
      map((r) => r.value * 3),
      scan((sum, v) => sum + v, 0),
      filter((sum) => sum % PIPELINE_REPORT_EVERY < 300),
    )
    .subscribe((v) => out.push(v));
  for (let i = 0; i < inputs.length; i++) subject.next((inputs[i] as Input<Reading>).event as Reading);
  return out.length;
}

export function rxTimeout(inputs: readonly Input<Heartbeat>[]): number {
  const scheduler = new VirtualTimeScheduler();
  const subject = new Subject<Heartbeat>();
  const out: string[] = [];
  subject
    .pipe(
      groupBy((e) => e.node),
      mergeMap((g) => g.pipe(switchMap(() => timer(SILENCE, scheduler).pipe(map(() => g.key))))),
    )
    .subscribe((k) => out.push(k));
  drive(scheduler, subject, inputs);
  return out.length;
}

export function rxSequence(inputs: readonly Input<Step>[]): number {
  const scheduler = new VirtualTimeScheduler();
  const subject = new Subject<Step>();
  const out: string[] = [];
  subject
    .pipe(
      groupBy((e) => e.key),
      mergeMap((g) =>
        g.pipe(
          filter((e) => e.kind === "a"),
          switchMap(() =>
            g.pipe(
              filter((e) => e.kind === "b"),
              take(1),
              takeUntil(timer(WINDOW, scheduler)),
              map(() => g.key),
            ),
          ),
        ),
      ),
    )
    .subscribe((k) => out.push(k));
  drive(scheduler, subject, inputs);
  return out.length;
}

function drive<E>(scheduler: VirtualTimeScheduler, subject: Subject<E>, inputs: readonly Input<E>[]): void {
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i] as Input<E>;
    scheduler.maxFrames = input.time;
    scheduler.flush(); // timers due at or before this time
    scheduler.frame = input.time;
    subject.next(input.event as E);
  }
}
