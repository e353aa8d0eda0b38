// GetRules and ChangeRules: the coordinator's rules version, the rules an
// operator switched off, and the faults recorded (docs/rc.md, "Faults"). A
// rule that fails on every event is switched off with ChangeRules, which
// writes a rules-version entry through the log like any other decision.
import { status } from "@grpc/grpc-js";
import type { ChangeRulesRequest, RulesResponse } from "../gen/halon/v1/client.js";
import {
  decodeApplyResult,
  encodeRulesVersion,
  KNOWN_RULES_VERSIONS,
  RULE_NAMES,
  type RcStateMachine,
} from "../rc/index.js";
import { GrpcError, quote } from "./grpc-errors.js";
import type { RcAccess } from "./rc-service.js";
import type { ReplicaControl } from "./replica-control.js";

export function getRules(machine: RcStateMachine): RulesResponse {
  const rules = machine.rules();
  const faults = machine.faultLog();
  return {
    version: rules.version,
    disabledRules: [...rules.disabled],
    knownRules: [...RULE_NAMES],
    faultCount: faults.count,
    faultsByRule: Object.keys(faults.byRule)
      .sort()
      .map((rule) => ({ rule, count: faults.byRule[rule] ?? 0 })),
    recentFaults: faults.recent.map((f) => ({
      code: f.code,
      rule: f.rule,
      key: f.key,
      eventId: f.eventId,
      index: f.index,
      timeMs: f.time,
    })),
    appliedIndex: machine.lastApplied,
  };
}

/** Checks the request (at the gate: nothing refused enters the log), proposes the entry, answers once applied. */
export async function changeRules(
  control: ReplicaControl,
  rc: RcAccess,
  req: ChangeRulesRequest,
): Promise<RulesResponse> {
  if (!KNOWN_RULES_VERSIONS.includes(req.version))
    throw new GrpcError(
      status.INVALID_ARGUMENT,
      `version: ${req.version} is not a rules version this build runs (${KNOWN_RULES_VERSIONS.join(", ")})`,
    );
  if (req.disabledRules.length > RULE_NAMES.length * 2)
    throw new GrpcError(status.INVALID_ARGUMENT, `disabled_rules: at most ${RULE_NAMES.length} rules`);
  req.disabledRules.forEach((r, i) => {
    if (!RULE_NAMES.includes(r))
      throw new GrpcError(
        status.INVALID_ARGUMENT,
        `disabled_rules[${i}]: no rule named ${quote(r)}; the rules are ${RULE_NAMES.join(", ")}`,
      );
  });
  const res = await control.propose(encodeRulesVersion(req.version, rc.now(), req.disabledRules));
  const applied = decodeApplyResult(res.result);
  if (applied.error !== "")
    throw new GrpcError(status.INTERNAL, `the rules change was refused: ${applied.error}`);
  return getRules(rc.machine);
}
