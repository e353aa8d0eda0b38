import type { RuleContext } from "./rule-spec.js";
import type { BufferItem } from "./types.js";

const NO_ITEMS: readonly BufferItem[] = Object.freeze([]);
const NO_TARGETS: readonly string[] = Object.freeze([]);

/**
 * The engine's one reusable rule context. Handlers record effects here; the engine applies them
 * only after the handler returned, which is what makes a throwing handler harmless.
 */
export class MutableContext implements RuleContext<unknown, unknown, unknown, string> {
  rule = "";
  key = "";
  time = 0;
  phase = "";
  local: unknown = undefined;
  global: unknown = undefined;
  /** Declared targets of the alternative being run (ctx.goto must pick one of them). */
  targets: readonly string[] = NO_TARGETS;
  next: string | undefined = undefined;
  /** Copy-on-write: `ownBuffer` is true once `buf` is a private copy that the commit can adopt. */
  buf: readonly BufferItem[] = NO_ITEMS;
  ownBuffer = false;
  maxBuffer = 0;
  /** Data emitted by this call: the first `emittedCount` entries (the array is reused). */
  emitted: unknown[] = [];
  emittedCount = 0;
  dropped: BufferItem[] = [];
  /** Timer operations in call order: [name, due] to start, [name, undefined] to cancel. */
  timerOps: [string, number | undefined][] = [];
  /** Timer names of the instance before this call, to answer hasTimer. */
  existingTimers: Readonly<Record<string, unknown>> | undefined = undefined;

  reset(
    rule: string,
    key: string,
    time: number,
    phase: string,
    local: unknown,
    global: unknown,
    buffer: readonly BufferItem[] | undefined,
    maxBuffer: number,
    timers: Readonly<Record<string, unknown>> | undefined,
  ): void {
    this.rule = rule;
    this.key = key;
    this.time = time;
    this.phase = phase;
    this.local = local;
    this.global = global;
    this.targets = NO_TARGETS;
    this.next = undefined;
    this.buf = buffer ?? NO_ITEMS;
    this.ownBuffer = false;
    this.maxBuffer = maxBuffer;
    this.emittedCount = 0;
    // A fresh empty array is cheaper than truncating one (a runtime call in V8), and only
    // needed after a call that used it.
    if (this.dropped.length !== 0) this.dropped = [];
    if (this.timerOps.length !== 0) this.timerOps = [];
    this.existingTimers = timers;
  }

  get buffer(): readonly BufferItem[] {
    return this.buf;
  }

  emit(data: unknown): void {
    this.emitted[this.emittedCount++] = data;
  }

  goto(phase: string): void {
    if (!this.targets.includes(phase))
      throw new Error(
        `goto("${phase}") is not allowed here: this alternative declares ${
          this.targets.length === 0 ? "no goto" : this.targets.map((t) => `"${t}"`).join(", ")
        }`,
      );
    this.next = phase;
  }

  startTimer(name: string, after: number): void {
    checkTimerName(name);
    if (typeof after !== "number" || !Number.isFinite(after) || after <= 0)
      throw new Error(`startTimer("${name}", ${String(after)}): the delay must be a positive finite number`);
    const due = this.time + after;
    if (!(due > this.time))
      throw new Error(`startTimer("${name}", ${after}): the delay is too small to advance time`);
    this.timerOps.push([name, due]);
  }

  cancelTimer(name: string): void {
    checkTimerName(name);
    this.timerOps.push([name, undefined]);
  }

  hasTimer(name: string): boolean {
    for (let i = this.timerOps.length - 1; i >= 0; i--) {
      const op = this.timerOps[i] as [string, number | undefined];
      if (op[0] === name) return op[1] !== undefined;
    }
    return this.existingTimers !== undefined && Object.hasOwn(this.existingTimers, name);
  }

  push(value: unknown): void {
    const buf = this.writableBuffer();
    buf.push({ t: this.time, v: value });
    while (buf.length > this.maxBuffer) this.dropped.push(buf.shift() as BufferItem);
  }

  dropBefore(time: number): void {
    let n = 0;
    while (n < this.buf.length && (this.buf[n] as BufferItem).t < time) n++;
    if (n > 0) this.writableBuffer().splice(0, n);
  }

  dropUntil(time: number): void {
    let n = 0;
    while (n < this.buf.length && (this.buf[n] as BufferItem).t <= time) n++;
    if (n > 0) this.writableBuffer().splice(0, n);
  }

  clearBuffer(): void {
    if (this.buf.length > 0) {
      this.buf = [];
      this.ownBuffer = true;
    }
  }

  private writableBuffer(): BufferItem[] {
    if (!this.ownBuffer) {
      this.buf = this.buf.slice();
      this.ownBuffer = true;
    }
    return this.buf as BufferItem[];
  }
}

function checkTimerName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.startsWith("$") || name === "__proto__")
    throw new Error(
      `timer name ${JSON.stringify(name)} is not allowed: use a non-empty name not starting with "$"`,
    );
}
