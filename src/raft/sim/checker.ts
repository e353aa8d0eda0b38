// Raft's safety properties, checked as the simulation runs:
// - election safety: at most one leader per term;
// - log matching: two durable logs with an entry of the same index and term
//   agree on it and on everything before it (checked as: each (index, term)
//   has one content and one predecessor term, which implies the prefix by induction);
// - leader completeness: a new leader holds every entry committed in earlier terms;
// - state machine safety: replicas apply the same entry at each index, in order,
//   with equal state (hash) after it, snapshots included;
// - every proposal acknowledged to a client is the entry applied at its index.
import type { Entry, ReplicaId } from "../types.js";
import type { ApplyListener } from "./sim-machine.js";

export interface Violation {
  property: string;
  detail: string;
}

function contentKey(e: Entry): string {
  let s = `${e.type}:`;
  for (let i = 0; i < e.data.length; i++) s += String.fromCharCode(e.data[i] as number);
  return s;
}

export class SafetyChecker implements ApplyListener {
  readonly violations: Violation[] = [];
  private readonly leaders = new Map<number, ReplicaId>();
  /** index:term -> content and predecessor term. */
  private readonly entries = new Map<string, string>();
  /** Applied Normal entries: index -> term, content, state hash after it. */
  readonly applied = new Map<number, { term: number; content: string; hash: number }>();
  private readonly lastApplied = new Map<ReplicaId, number>();
  maxAppliedIndex = 0;

  private fail(property: string, detail: string): void {
    if (this.violations.length < 20) this.violations.push({ property, detail });
  }

  /** Election safety. */
  observeLeader(id: ReplicaId, term: number): boolean {
    const known = this.leaders.get(term);
    if (known === undefined) {
      this.leaders.set(term, id);
      return true;
    }
    if (known !== id) this.fail("election safety", `term ${term} has two leaders: ${known} and ${id}`);
    return false;
  }

  /** Log matching, on every durable write. */
  observeDurable(
    node: ReplicaId,
    written: readonly Entry[],
    termAt: (i: number) => number | undefined,
  ): void {
    for (const e of written) {
      const prev = termAt(e.index - 1);
      const value = `${prev ?? "?"}|${contentKey(e)}`;
      const key = `${e.index}:${e.term}`;
      const known = this.entries.get(key);
      if (known === undefined) this.entries.set(key, value);
      else if (known !== value) {
        // An unknown predecessor (compacted) cannot contradict.
        const [kp, ...kc] = known.split("|");
        const [vp, ...vc] = value.split("|");
        if (kc.join("|") !== vc.join("|") || (kp !== "?" && vp !== "?" && kp !== vp))
          this.fail(
            "log matching",
            `${node} wrote entry ${key} that differs from another replica's (${known} vs ${value})`,
          );
        else if (kp === "?") this.entries.set(key, value);
      }
    }
  }

  /** Leader completeness: `termOf` reads the new leader's log. */
  checkLeaderCompleteness(
    id: ReplicaId,
    term: number,
    firstIndex: number,
    lastIndex: number,
    termOf: (i: number) => number | undefined,
  ): void {
    for (const [index, a] of this.applied) {
      if (a.term >= term || index < firstIndex) continue;
      if (index > lastIndex) {
        this.fail(
          "leader completeness",
          `${id} leads term ${term} without committed entry ${index} (its log ends at ${lastIndex})`,
        );
        return;
      }
      const t = termOf(index);
      if (t !== undefined && t !== a.term) {
        this.fail(
          "leader completeness",
          `${id} leads term ${term} with term ${t} at ${index}, committed was term ${a.term}`,
        );
        return;
      }
    }
  }

  onApply(node: string, entry: Entry, hashAfter: number): void {
    const last = this.lastApplied.get(node) ?? 0;
    if (entry.index <= last)
      this.fail("state machine safety", `${node} applied ${entry.index} after ${last}`);
    this.lastApplied.set(node, entry.index);
    const content = contentKey(entry);
    const known = this.applied.get(entry.index);
    if (known === undefined) {
      this.applied.set(entry.index, { term: entry.term, content, hash: hashAfter });
      if (entry.index > this.maxAppliedIndex) this.maxAppliedIndex = entry.index;
    } else if (known.content !== content || known.term !== entry.term) {
      this.fail(
        "state machine safety",
        `${node} applied a different entry at ${entry.index} (term ${entry.term} vs ${known.term})`,
      );
    } else if (known.hash !== hashAfter) {
      this.fail(
        "state machine safety",
        `${node}'s state after ${entry.index} differs from another replica's: a gap or reorder`,
      );
    }
  }

  onRestore(node: string, lastIndex: number, hash: number): void {
    this.lastApplied.set(node, lastIndex);
    if (lastIndex === 0) return;
    const known = this.applied.get(lastIndex);
    if (known !== undefined && known.hash !== hash)
      this.fail(
        "state machine safety",
        `${node} restored a snapshot at ${lastIndex} whose state differs from the applied history`,
      );
  }

  /** A crashed replica starts applying from its snapshot again. */
  forgetNode(node: string): void {
    this.lastApplied.delete(node);
  }

  /** Acknowledged proposals. */
  checkAcknowledged(index: number, data: Uint8Array, term?: number): void {
    const a = this.applied.get(index);
    const expect = contentKey({ term: 0, index, type: 0, data });
    if (a === undefined)
      this.fail("acknowledged proposal", `entry ${index} was acknowledged but never applied anywhere`);
    else if (a.content !== expect || (term !== undefined && a.term !== term))
      this.fail(
        "acknowledged proposal",
        `entry ${index} was acknowledged but a different entry was applied there`,
      );
  }

  /** The proposer of entry `index` got the state machine's answer for entry `answeredFor`. */
  checkAnswer(index: number, answeredFor: number): void {
    if (answeredFor !== index)
      this.fail(
        "acknowledged proposal",
        `entry ${index} was answered with the result of entry ${answeredFor}`,
      );
  }

  /** Liveness failures are reported through the same list. */
  liveness(detail: string): void {
    this.fail("liveness", detail);
  }
}
