// A server of halon.v1.InfraService around a respawn function: `halon up`
// serves one (it restarts the node services it runs), and so can any system
// that runs hosts. Only the coordinator's replicas may call it (by their
// certificates); requests from an older leader term are refused with
// FAILED_PRECONDITION, and a repeated command gets its first answer
// (fenced-once.ts).
import { Server, status, type ServerCredentials, type ServerErrorResponse } from "@grpc/grpc-js";
import {
  InfraServiceService,
  type InfraServiceServer,
  type RespawnNodeRequest,
} from "../../gen/halon/v1/infra.js";
import type { Logger } from "../../log/logger.js";
import { toServiceError } from "../grpc-errors.js";
import { callerOf, describe } from "../identity.js";
import { guardHandlers, guardService } from "../request-guard.js";
import { FencedError, FencedOnce, type RespawnAnswer } from "./fenced-once.js";

export interface InfraServerOptions {
  address: string;
  credentials: ServerCredentials;
  cluster: string;
  /** The replicas' ids: the only callers accepted (with certificates). */
  replicaIds: string[];
  respawn(req: RespawnNodeRequest): Promise<RespawnAnswer>;
  logger: Logger;
}

export interface InfraServer {
  port: number;
  close(): Promise<void>;
}

export async function serveInfraService(opts: InfraServerOptions): Promise<InfraServer> {
  const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 });
  const once = new FencedOnce();
  const refuse = (code: status, details: string): ServerErrorResponse => ({
    name: "InfraServiceError",
    message: details,
    code,
    details,
  });
  const impl: InfraServiceServer = {
    respawnNode: (call, callback) => {
      const req = call.request;
      let caller;
      try {
        caller = callerOf(call, opts.cluster);
      } catch (err) {
        callback(toServiceError(err) as ServerErrorResponse);
        return;
      }
      if (caller !== "insecure") {
        if (caller.role !== "replica" || !opts.replicaIds.includes(caller.name))
          return callback(
            refuse(
              status.PERMISSION_DENIED,
              `${describe(caller)} may not respawn nodes: only the replicas may`,
            ),
          );
        if (req.leaderId !== caller.name)
          return callback(
            refuse(
              status.PERMISSION_DENIED,
              `the request names leader "${req.leaderId}" but comes from replica "${caller.name}"`,
            ),
          );
      }
      if (req.commandId === "" || req.nodeId === "" || req.leaderTerm < 1)
        return callback(
          refuse(status.INVALID_ARGUMENT, "command_id, node_id and leader_term (at least 1) are required"),
        );
      let answer: Promise<RespawnAnswer>;
      try {
        answer = once.run(req, () => opts.respawn(req));
      } catch (err) {
        if (err instanceof FencedError) {
          opts.logger.warn({ command: req.commandId, term: req.leaderTerm }, "refused a fenced respawn");
          return callback(refuse(status.FAILED_PRECONDITION, err.message));
        }
        throw err;
      }
      void answer.then((a) => {
        opts.logger.info(
          { command: req.commandId, node: req.nodeId, host: req.hostId, ok: a.ok, detail: a.detail },
          "respawn node",
        );
        callback(null, a);
      });
    },
  };
  server.addService(guardService(InfraServiceService), guardHandlers(InfraServiceService, impl));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.address, opts.credentials, (err, p) =>
      err ? reject(new Error(`cannot listen on ${opts.address}: ${err.message}`)) : resolve(p),
    ),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
