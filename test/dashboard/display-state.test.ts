// The colour class of a resource on the dashboard: a process under recovery
// shows as failed until it is online again, except on a node that is away,
// where it shows what the graph says (unknown, offline).
import { describe, expect, it } from "vitest";
import { displayState } from "../../src/dashboard/web/model.js";

const proc = (state: string, recovering: boolean) => ({
  id: "p",
  kind: "Process",
  attrs: { state, recovering },
});

describe("displayState", () => {
  it("shows a recovering process as failed until it is online, and an away one as the graph says", () => {
    expect(displayState(proc("starting", true))).toBe("failed");
    expect(displayState(proc("failed", true))).toBe("failed");
    expect(displayState(proc("online", true))).toBe("online");
    expect(displayState(proc("unknown", true))).toBe("unknown");
    expect(displayState(proc("offline", true))).toBe("offline");
    expect(displayState(proc("starting", false))).toBe("starting");
    expect(displayState({ id: "s", kind: "Service", attrs: { state: "unknown" } })).toBe("unknown");
    expect(displayState({ id: "r", kind: "Rack", attrs: {} })).toBe("unknown");
  });
});
