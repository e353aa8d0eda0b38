// The replica's test state machine until the recovery coordinator's lands: it
// keeps how many payloads were applied and a running SHA-256 over them, so two
// replicas that applied the same sequence have the same hash, and any
// divergence (a lost, reordered or doubled entry) shows.
import type { StateMachine } from "../raft/storage.js";
import type { Entry } from "../raft/types.js";
import { sha256Hex } from "../util/hash.js";

interface State {
  count: number;
  /** hex SHA-256 chained over every payload: h' = sha256(h || payload). */
  hash: string;
}

const EMPTY_HASH = "0".repeat(64);

export class HashChainStateMachine implements StateMachine {
  private state: State = { count: 0, hash: EMPTY_HASH };

  apply(entry: Entry): Uint8Array {
    const hash = sha256Hex(Buffer.from(this.state.hash, "hex"), entry.data);
    this.state = { count: this.state.count + 1, hash };
    // The proposer learns the position of its payload in the sequence.
    const result = Buffer.allocUnsafe(8);
    result.writeBigUInt64BE(BigInt(this.state.count));
    return result;
  }

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.state), "utf8");
  }

  restore(data: Uint8Array): void {
    const parsed = JSON.parse(Buffer.from(data).toString("utf8")) as State;
    if (!Number.isSafeInteger(parsed.count) || !/^[0-9a-f]{64}$/.test(parsed.hash)) {
      throw new Error("not a hash-chain snapshot");
    }
    this.state = { count: parsed.count, hash: parsed.hash };
  }

  /** How many payloads were applied, and the hash over them. */
  summary(): State {
    return { ...this.state };
  }
}
