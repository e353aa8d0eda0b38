// Domain events after validation: what the rules see. Ids are checked, numbers
// are safe integers, exactly one body was present.
import type { TopologyDeclared } from "../gen/halon/v1/events.js";

export type DomainEvent =
  | { type: "process-failed"; processId: string; instance: number; reason: string }
  | { type: "process-started"; processId: string; instance: number }
  | { type: "process-local-restart"; processId: string; instance: number; reason: string }
  | { type: "node-heartbeat"; nodeId: string; epoch: number }
  | { type: "node-joined"; nodeId: string; hostId: string; address: string; epoch: number }
  | { type: "node-silent"; nodeId: string }
  | { type: "striping-error"; poolId: string; diskId: string }
  | { type: "disk-failed"; diskId: string }
  | { type: "disk-replaced"; diskId: string; serial: string }
  | { type: "node-drained"; nodeId: string }
  | { type: "topology-declared"; topology: TopologyDeclared }
  | { type: "epoch-request"; nodeId: string }
  | { type: "command-result"; commandId: string; ok: boolean; detail: string; nodeId: string }
  | { type: "unknown"; name: string };

export type DomainEventType = DomainEvent["type"];

/** Why an event was refused: a stable code for programs, a reason for people. */
export interface Rejection {
  code: RejectionCode;
  reason: string;
}

export type RejectionCode =
  "bad-field" | "several-bodies" | "unknown-resource" | "wrong-kind" | "unknown-command" | "conflict";

export class RcRejection extends Error {
  constructor(
    readonly code: RejectionCode,
    reason: string,
  ) {
    super(reason);
    this.name = "RcRejection";
  }
}
