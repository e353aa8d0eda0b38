// The client library finds the leader even when one replica hangs: a replica
// that accepts connections and never answers (stopped with SIGSTOP, a black
// hole) costs one short call at most, not every call. A node service's session
// renewal has time for one attempt only; if every renewal tried the first
// listed replica first, a hung first replica would cut every node off the
// leader until it was declared silent.
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { HalonServiceService } from "../../src/gen/halon/v1/client.js";

describe("ClusterClient with a replica that never answers", () => {
  let blackHole: NetServer;
  const held: Socket[] = [];
  let leader: Server;
  let addresses: string[] = [];
  let renewals = 0;

  beforeAll(async () => {
    blackHole = createServer((s) => held.push(s));
    await new Promise<void>((r) => blackHole.listen(0, "127.0.0.1", () => r()));
    const holePort = (blackHole.address() as { port: number }).port;
    leader = new Server();
    const impl: UntypedServiceImplementation = {
      renewSession: (_call: unknown, cb: (err: null, res: object) => void) => {
        renewals++;
        cb(null, { term: 7, leaderId: "rc2", nodeState: "online", ackedEpoch: 0 });
      },
    };
    leader.addService(HalonServiceService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      leader.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    addresses = [`127.0.0.1:${holePort}`, `127.0.0.1:${port}`];
  });

  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => blackHole.close(() => r()));
    leader.forceShutdown();
  });

  it("a short call that timed out on the hung replica goes to the next one the next time", async () => {
    const client = new ClusterClient({ addresses });
    const req = { nodeId: "node1", epoch: 0, incarnation: "1" };
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await client.renewSession(req, 200).then(
          (r) => `term ${r.term}`,
          () => "failed",
        ),
      );
    // The first renewal may be lost to the black hole; no later one is.
    expect(outcomes.slice(1)).toEqual(["term 7", "term 7", "term 7"]);
    expect(renewals).toBeGreaterThanOrEqual(3);
    client.close();
  });
});
