// What the leader calls to deliver a RespawnNode command: the provider the
// cluster config names for the command's host (`infrastructure.hosts.<host>`,
// else `infrastructure.default`), behind fencing and idempotence
// (fenced-once.ts). It never throws: a fenced request, a host without a
// provider, a failed command or call are all an answer with ok=false and the
// reason, which the leader proposes to the log as the command's result.
import type { ClusterConfig, InfraProviderConfig } from "../../config/index.js";
import type { RespawnNodeRequest } from "../../gen/halon/v1/infra.js";
import type { TlsSource } from "../../raft/transport/tls.js";
import { runExecProvider } from "./exec-provider.js";
import { FencedError, FencedOnce, type RespawnAnswer } from "./fenced-once.js";
import { GrpcInfraProvider } from "./grpc-provider.js";

export type { RespawnAnswer } from "./fenced-once.js";

export interface InfraProvider {
  /** Which provider serves the host, for the log ("exec /usr/bin/x", "grpc 10.0.0.5:7400", "none"). */
  readonly describe: string;
  respawnNode(req: RespawnNodeRequest): Promise<RespawnAnswer>;
  close(): void;
}

export interface InfraProviderOptions {
  /** The calling replica's certificates, for provider grpc (undefined: plain TCP, --insecure). */
  tls?: TlsSource;
}

/** The provider entry for a host, or undefined when the config names none. */
export function infraProviderConfig(config: ClusterConfig, hostId: string): InfraProviderConfig | undefined {
  return config.infrastructure.hosts[hostId] ?? config.infrastructure.default;
}

export function createInfraProvider(
  config: ClusterConfig,
  hostId: string,
  opts: InfraProviderOptions = {},
): InfraProvider {
  const cfg = infraProviderConfig(config, hostId);
  const once = new FencedOnce();
  const cluster = config.cluster.name;
  let call: (req: RespawnNodeRequest) => Promise<RespawnAnswer>;
  let close = () => undefined as void;
  let describe: string;
  if (cfg === undefined) {
    describe = "none";
    call = () =>
      Promise.resolve({
        ok: false,
        detail: `no infrastructure provider for host "${hostId}": add one to the cluster config's infrastructure section`,
      });
  } else if (cfg.provider === "exec") {
    describe = `exec ${cfg.command}`;
    call = (req) => runExecProvider(cfg, cluster, req);
  } else {
    const grpc = new GrpcInfraProvider(cfg, cluster, opts.tls);
    describe = `grpc ${cfg.address}`;
    call = (req) => grpc.respawnNode(req);
    close = () => grpc.close();
  }
  return {
    describe,
    respawnNode(req) {
      if (req.hostId !== hostId)
        return Promise.resolve({
          ok: false,
          detail: `this provider serves host "${hostId}", not "${req.hostId}"`,
        });
      try {
        return once.run(req, () => call(req));
      } catch (err) {
        if (err instanceof FencedError)
          return Promise.resolve({ ok: false, detail: `fenced: ${err.message}` });
        throw err;
      }
    },
    close,
  };
}
