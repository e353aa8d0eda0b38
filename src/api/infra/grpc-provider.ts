// Provider `grpc`: calls halon.v1.InfraService at the configured address, with
// the calling replica's certificate; the server must hold the certificate of
// infra `<name>` of this cluster. A call that fails (unreachable, timed out,
// refused) is a failed respawn with the status in the detail: the coordinator
// retries with backoff, and the server answers a repeat of a command it
// carried out with its first answer.
import type { PeerCertificate } from "node:tls";
import { Metadata } from "@grpc/grpc-js";
import type { InfraProviderConfig } from "../../config/index.js";
import { InfraServiceClient, type RespawnNodeRequest } from "../../gen/halon/v1/infra.js";
import { secureChannel, type TlsSource } from "../../raft/transport/tls.js";
import { parseIdentityUri, spiffeUris } from "../identity.js";
import type { RespawnAnswer } from "./fenced-once.js";

type GrpcConfig = Extract<InfraProviderConfig, { provider: "grpc" }>;

export class GrpcInfraProvider {
  private readonly client: InfraServiceClient;

  constructor(
    private readonly cfg: GrpcConfig,
    cluster: string,
    tls: TlsSource | undefined,
  ) {
    const expectInfra = (_host: string, cert: PeerCertificate) => {
      const ids = spiffeUris(cert.subjectaltname).map(parseIdentityUri);
      return ids.some((i) => i?.cluster === cluster && i.role === "infra" && i.name === cfg.name)
        ? undefined
        : new Error(`the server at ${cfg.address} is not infra "${cfg.name}" of "${cluster}"`);
    };
    const channel = secureChannel(tls, cfg.address, expectInfra);
    this.client = new InfraServiceClient(cfg.address, channel.credentials, channel.options);
  }

  respawnNode(req: RespawnNodeRequest): Promise<RespawnAnswer> {
    return new Promise((resolve) =>
      this.client.respawnNode(
        req,
        new Metadata(),
        { deadline: Date.now() + this.cfg.timeoutMs },
        (err, res) =>
          resolve(
            err
              ? { ok: false, detail: `InfraService at ${this.cfg.address}: ${err.details || err.message}` }
              : { ok: res.ok, detail: res.detail },
          ),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}
