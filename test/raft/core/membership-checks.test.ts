// Membership changes are checked before they enter the log: promote only a
// learner that exists and has caught up, and never leave the configuration
// without a live quorum unless forced; the refusal says why.
import { describe, expect, it } from "vitest";
import { ProposalDroppedError } from "../../../src/raft/core/errors.js";
import { Role } from "../../../src/raft/core/ready.js";
import { CoreNet, bytes } from "./harness.js";

function leaderOf(ids: string[]): CoreNet {
  const net = new CoreNet(ids);
  net.elect("a");
  net.core("a").propose(bytes("x"));
  net.stabilize();
  net.tickAll(3);
  return net;
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProposalDroppedError);
    return (e as Error).message;
  }
  return "accepted";
}

describe("membership checks", () => {
  it("refuses to promote an id that is neither a learner nor a member, three times over, and keeps a leader", () => {
    const net = leaderOf(["a", "b", "c"]);
    const a = net.core("a");
    for (const id of ["x", "y", "z"])
      expect(refusal(() => a.proposeMembershipChange([{ op: "addVoter", id }], true))).toMatch(
        /not a learner/,
      );
    net.tickAll(30);
    expect(a.membership.voters).toEqual(["a", "b", "c"]);
    expect(a.role).toBe(Role.Leader);
  });

  it("promotes a learner only once it has caught up (or when forced)", () => {
    const net = leaderOf(["a", "b", "c"]);
    const a = net.core("a");
    net.wipe("d");
    net.isolate("d");
    a.proposeMembershipChange([{ op: "addLearner", id: "d" }]);
    net.stabilize();
    net.tickAll(2);
    for (let i = 0; i < 70; i++) a.propose(bytes(`w${i}`));
    net.stabilize();
    expect(refusal(() => a.proposeMembershipChange([{ op: "addVoter", id: "d" }]))).toMatch(
      /has not caught up \((never heard from|\d+ entries behind)/,
    );
    net.recover();
    net.tickAll(3);
    expect(refusal(() => a.proposeMembershipChange([{ op: "addVoter", id: "d" }]))).toBe("accepted");
    net.stabilize();
    net.tickAll(2);
    expect(a.membership.voters).toContain("d");
  });

  it("refuses a removal that leaves no live quorum, says which voters are silent, and obeys force", () => {
    const net = leaderOf(["a", "b", "c"]);
    const a = net.core("a");
    net.isolate("c");
    net.tickAll(15); // c has been silent for more than an election timeout
    const why = refusal(() => a.proposeMembershipChange([{ op: "remove", id: "b" }]));
    expect(why).toMatch(/no live quorum: 1 of 2 voters answer \(not c\)/);
    // Removing the silent one is fine: a and b remain, both live.
    expect(refusal(() => a.proposeMembershipChange([{ op: "remove", id: "c" }]))).toBe("accepted");
  });

  it("force skips the live-quorum check", () => {
    const net = leaderOf(["a", "b", "c"]);
    const a = net.core("a");
    net.isolate("c");
    net.tickAll(15);
    expect(refusal(() => a.proposeMembershipChange([{ op: "remove", id: "b" }], true))).toBe("accepted");
  });
});
