import { describeError } from "./errors.js";
import type { EngineState, ErrorInfo, Output, OverflowInfo, TraceEntry } from "./types.js";

/** "0" to "999", and the same padded to three digits ("000" to "999"). */
const SMALL: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i));
const PADDED: readonly string[] = SMALL.map((s) => s.padStart(3, "0"));

/**
 * What one step produces: its outputs, numbered from the state's sequence, and (when explain was
 * asked for) its trace. Rules and flows both write here, so that they number and shape outputs
 * identically. Reset by every step (steps never nest).
 */
export class StepOutputs<O> {
  /** Undefined until the first output: most steps produce none and allocate nothing. */
  outputs: Output<O>[] | undefined = undefined;
  /** Defined only while a step runs with `explain`. */
  trace: TraceEntry[] | undefined = undefined;

  // `${rule}/` of the last rule that emitted: saves one string concatenation per output id.
  private lastRule = "";
  private lastPrefix = "/";
  // The decimal digits of seq / 1000 for the last id made: they change once per 1000 numbers.
  private lastThousands = -1;
  private lastThousandsText = "";

  /**
   * `${rule}/${key}/${seq}`, built without converting the whole sequence number to text each
   * time: outside V8's small number-to-string cache that conversion is a runtime call, the
   * largest single cost of an output. The thousands' digits are cached and the last three come
   * from a table, which gives the same text for any integer from 0 to 2^32 - 1.
   */
  id(rule: string, key: string, seq: number): string {
    if (rule !== this.lastRule) {
      this.lastRule = rule;
      this.lastPrefix = `${rule}/`;
    }
    if (seq >>> 0 !== seq) return this.lastPrefix + key + "/" + String(seq);
    if (seq < 1000) return this.lastPrefix + key + "/" + (SMALL[seq] as string);
    const thousands = (seq / 1000) >>> 0;
    if (thousands !== this.lastThousands) {
      this.lastThousands = thousands;
      this.lastThousandsText = String(thousands);
    }
    return this.lastPrefix + key + "/" + this.lastThousandsText + (PADDED[seq - thousands * 1000] as string);
  }

  emit(state: EngineState, rule: string, key: string, time: number, data: unknown): void {
    const seq = state.seq++;
    this.push({ id: this.id(rule, key, seq), rule, key, time, kind: "emit", data: data as O });
  }

  overflow(state: EngineState, rule: string, key: string, time: number, data: OverflowInfo): void {
    const seq = state.seq++;
    this.push({ id: this.id(rule, key, seq), rule, key, time, kind: "overflow", data });
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
      id: this.id(rule, key, seq),
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
