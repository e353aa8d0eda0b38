// Linearizable reads without log writes (ReadIndex): the leader confirms
// with a heartbeat round that it still leads, then releases the read at the
// commit index it had when the read arrived; followers forward to the leader.
import { Replication } from "./replication.js";
import type { ReplicaId } from "../types.js";
import { NotLeaderError } from "./errors.js";
import { isVoter } from "./membership.js";
import { makeMessage, MessageType } from "./messages.js";
import { Role } from "./ready.js";

export abstract class ReadIndex extends Replication {
  /** Asks for a linearizable read point; answered in a Ready's readStates with this context. */
  readIndex(context: Uint8Array): void {
    if (this.role === Role.Leader) {
      this.leaderReadIndex(this.id, context);
      return;
    }
    if (this.lead === null) throw new NotLeaderError(null);
    this.msgsAfterPersist.push(makeMessage(MessageType.ReadIndex, this.id, this.lead, { context }));
  }

  protected leaderReadIndex(from: ReplicaId, context: Uint8Array): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of this term commits, our commit index may be behind.
      this.pendingReads.push({ from, context });
      return;
    }
    const index = this.log.committed;
    if (this.voters().length === 1 && isVoter(this.membership, this.id)) {
      this.answerRead(from, index, context);
      return;
    }
    this.readOnly.add(index, from, context, this.id);
    this.bcastHeartbeat(context);
  }

  protected releasePendingReads(): void {
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const r of reads) this.leaderReadIndex(r.from, r.context);
  }

  protected answerRead(from: ReplicaId, index: number, context: Uint8Array): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send(makeMessage(MessageType.ReadIndexResponse, this.id, from, { index, context }));
  }
}
