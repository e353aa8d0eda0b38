import { describeError } from "./errors.js";
import type { EngineState, ErrorInfo, Output, OverflowInfo, TraceEntry } from "./types.js";

/**
 * What one step produces: its outputs, numbered from the state's sequence, and (when explain was
 * asked for) its trace. The engine's general rule path and the compiled pattern paths both write
 * here, so that they number and shape outputs identically. Reset by every step (steps never nest).
 */
export class StepOutputs<O> {
  /** Undefined until the first output: most steps produce none and allocate nothing. */
  outputs: Output<O>[] | undefined = undefined;
  /** Defined only while a step runs with `explain`. */
  trace: TraceEntry[] | undefined = undefined;

  // `${rule}/` of the last rule that emitted: saves one string concatenation per output id.
  private lastRule = "";
  private lastPrefix = "/";

  emit(state: EngineState, rule: string, key: string, time: number, data: unknown): void {
    const seq = state.seq++;
    if (rule !== this.lastRule) {
      this.lastRule = rule;
      this.lastPrefix = `${rule}/`;
    }
    // The same id as `${rule}/${key}/${seq}`.
    this.push({ id: this.lastPrefix + key + "/" + seq, rule, key, time, kind: "emit", data: data as O });
  }

  overflow(state: EngineState, rule: string, key: string, time: number, data: OverflowInfo): void {
    const seq = state.seq++;
    this.push({ id: `${rule}/${key}/${seq}`, rule, key, time, kind: "overflow", data });
  }

  error(
    state: EngineState,
    rule: string,
    key: string,
    time: number,
    during: ErrorInfo["during"],
    err: unknown,
  ): void {
    const seq = state.seq++;
    this.push({
      id: `${rule}/${key}/${seq}`,
      rule,
      key,
      time,
      kind: "error",
      data: { message: describeError(err), during },
    });
    if (this.trace !== undefined) this.trace.push({ rule, key, time, cause: during, outcome: "error" });
  }

  private push(output: Output<O>): void {
    if (this.outputs === undefined) this.outputs = [output];
    else this.outputs.push(output);
  }
}
