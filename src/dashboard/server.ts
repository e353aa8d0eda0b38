// The dashboard of one replica, on its dashboardAddress: the page and its
// bundle, a live stream of the picture (server-sent events fed by the graph
// watch), JSON for one resource (attributes, history, explanation), and the
// Prometheus metrics. Plain HTTP unless `tls` is given (a replica started with
// --insecure, on loopback only); with it, HTTPS with the same certificate and
// CA as the replica's gRPC server (rotated with them), and a client
// certificate from the CA required, of the reader or operator role (see
// docs/dashboard.md and docs/security.md).
import { existsSync, readFileSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Fastify, { type FastifyInstance } from "fastify";
import { ClusterClient } from "../api/cluster-client.js";
import { explain, getHistory } from "../api/history-service.js";
import { neighbourhood } from "../api/graph-view.js";
import type { IndexedChanges } from "../api/graph-watch-hub.js";
import type { Replica } from "../api/replica.js";
import type { Logger } from "../log/logger.js";
import { callerOf, describe as describeCaller, type Role } from "../api/identity.js";
import { ReloadableCertificates } from "../raft/transport/reloadable-certificates.js";
import type { TlsSource } from "../raft/transport/tls.js";
import type { ReplicaMetrics } from "./metrics.js";
import { activity, replicaRow, wholePicture, withLag, type StatusMessage } from "./snapshot.js";
import { pageHtml } from "./page.js";

/** Where `npm run build:web` writes the bundle: dist/web under the repository (from src/ or dist/ alike). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../dist/web/", import.meta.url));

export interface DashboardOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  replica: Replica;
  metrics: ReplicaMetrics;
  logger: Logger;
  /**
   * HTTPS with these (the replica's own certificate, key and CA; a
   * ReloadableCertificates is followed when its files rotate), a client
   * certificate of the reader or operator role required; plain HTTP without.
   */
  tls?: TlsSource;
  webDir?: string;
  /** How often the replicas' status is sent to the pages. */
  statusEveryMs?: number;
}

/** The roles whose certificates may open the dashboard and /metrics (both only read). */
export const DASHBOARD_ROLES: readonly Role[] = ["operator", "reader"];

/** A page's stream is cut when this much is waiting to be sent (it reconnects and starts again). */
const MAX_STREAM_BACKLOG = 8 * 1024 * 1024;

interface Stream {
  send(event: string, data: unknown): void;
  close(): void;
}

export class DashboardServer {
  private readonly app: FastifyInstance;
  private readonly streams = new Set<Stream>();
  private readonly client: ClusterClient;
  private statusTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastStatus: StatusMessage | null = null;
  private lastActivityKey = "";
  private boundPort = 0;
  private stopWatchingCertificates: (() => void) | null = null;

  constructor(private readonly opts: DashboardOptions) {
    this.app = Fastify({
      logger: false,
      ...(opts.tls
        ? {
            https: {
              key: opts.tls.key,
              cert: opts.tls.cert,
              ca: opts.tls.ca,
              requestCert: true,
              rejectUnauthorized: true,
            },
          }
        : {}),
    });
    const config = opts.replica.clusterConfig;
    if (opts.tls) this.requireRole(config.cluster.name);
    this.client = new ClusterClient({
      addresses: config.replicas.map((r) => r.grpcAddress),
      tls: opts.tls,
      callTimeoutMs: 900,
    });
    this.routes();
  }

  async start(): Promise<number> {
    const { host, port } = splitAddress(this.opts.address);
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    this.boundPort = typeof addr === "object" && addr ? addr.port : port;
    this.followRotation();
    const rc = this.opts.replica.coordinator;
    if (rc) this.unsubscribe = rc.hub.subscribe((u) => this.onGraph(u));
    this.statusTimer = setInterval(() => void this.tick(), this.opts.statusEveryMs ?? 1_000);
    this.statusTimer.unref();
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  async stop(): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.unsubscribe?.();
    this.stopWatchingCertificates?.();
    for (const s of this.streams) s.close();
    this.streams.clear();
    this.client.close();
    await this.app.close();
  }

  /**
   * Every request over HTTPS names a caller of this cluster with the reader or
   * operator role (TLS already refused a certificate not from the CA): a
   * replica's or node service's certificate does not open the dashboard.
   */
  private requireRole(cluster: string): void {
    this.app.addHook("onRequest", (req, reply, done) => {
      const socket = req.raw.socket as TLSSocket;
      let why = "";
      try {
        const caller = callerOf(
          {
            getAuthContext: () => ({
              transportSecurityType: "ssl",
              sslPeerCertificate: socket.getPeerCertificate(),
            }),
          },
          cluster,
        );
        if (caller === "insecure" || !DASHBOARD_ROLES.includes(caller.role))
          why = `${describeCaller(caller)} may not open the dashboard: it takes a reader or operator certificate`;
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      if (why === "") done();
      else void reply.code(403).type("text/plain; charset=utf-8").send(`${why}\n`);
    });
  }

  /** New certificates from the replica's files go to new connections too. */
  private followRotation(): void {
    const tls = this.opts.tls;
    if (!(tls instanceof ReloadableCertificates)) return;
    const server = this.app.server as unknown as HttpsServer;
    // Called once soon after with the material the server started with: harmless.
    const update = () => server.setSecureContext({ key: tls.key, cert: tls.cert, ca: tls.ca });
    tls.addIdentityCertificateListener(update);
    this.stopWatchingCertificates = () => tls.removeIdentityCertificateListener(update);
  }

  private routes(): void {
    const { replica, metrics } = this.opts;
    const webDir = this.opts.webDir ?? DEFAULT_WEB_DIR;
    this.app.get("/", (_req, reply) => {
      reply.type("text/html; charset=utf-8").send(pageHtml(replica.id, existsSync(join(webDir, "app.js"))));
    });
    for (const [file, type] of [
      ["app.js", "text/javascript; charset=utf-8"],
      ["app.css", "text/css; charset=utf-8"],
    ] as const) {
      this.app.get(`/${file}`, (_req, reply) => {
        const path = join(webDir, file);
        if (!existsSync(path))
          return reply.code(404).type("text/plain").send(`${file} is not built: run make build`);
        return reply.type(type).header("cache-control", "no-cache").send(readFileSync(path));
      });
    }
    this.app.get("/favicon.ico", (_req, reply) => reply.code(204).send());
    this.app.get("/metrics", async (_req, reply) => {
      reply.type(metrics.registry.contentType).send(await metrics.metrics());
    });
    this.app.get("/api/state", async () => wholePicture(replica, await this.status()));
    this.app.get<{ Params: { id: string } }>("/api/resource/:id", (req, reply) => {
      const rc = replica.coordinator;
      if (!rc) return reply.code(409).send({ error: "this replica does not run the recovery coordinator" });
      const id = req.params.id;
      const view = neighbourhood(rc.machine.graph, id);
      if (!view)
        return reply.code(404).send({ error: `no resource "${id}" at index ${rc.machine.lastApplied}` });
      return {
        neighbourhood: view,
        history: getHistory(replica.id, rc, { resourceId: id, limit: 30, stale: true }),
        explain: explain(replica.id, rc, { resourceId: id, stale: true }),
      };
    });
    this.app.get("/api/events", (req, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      const stream: Stream = {
        send: (event, data) => {
          if (raw.writableLength > MAX_STREAM_BACKLOG) {
            stream.close();
            return;
          }
          raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        },
        close: () => {
          this.streams.delete(stream);
          raw.end();
        },
      };
      this.streams.add(stream);
      req.raw.on("close", () => this.streams.delete(stream));
      void this.status().then((status) => stream.send("picture", wholePicture(replica, status)));
    });
  }

  /** The replicas' status: this one's own at once, the others over gRPC (cached between ticks). */
  private async status(): Promise<StatusMessage> {
    if (this.lastStatus) return { ...this.lastStatus, self: this.selfRow() };
    return this.refreshStatus();
  }

  private selfRow() {
    const me = this.opts.replica;
    return replicaRow(me.status(), me.self.grpcAddress, me.id);
  }

  private async refreshStatus(): Promise<StatusMessage> {
    const { replica } = this.opts;
    const config = replica.clusterConfig;
    const answers = await this.client.statusAll();
    const rows = withLag(
      answers.map((a, i) => {
        if (config.replicas[i]?.id === replica.id) return this.selfRow();
        return replicaRow(a.status, a.address, config.replicas[i]?.id ?? a.address, a.error);
      }),
    );
    const rc = replica.coordinator;
    const status: StatusMessage = {
      self: rows.find((r) => r.id === replica.id) ?? this.selfRow(),
      replicas: rows,
      epoch: rc?.machine.epoch ?? 0,
      outbox: (rc?.machine.pendingCommands() ?? []).slice(0, 20).map((c) => ({
        id: c.id,
        target: c.target,
        // The body: the command's only field that is a message (the others are ids, times, indexes).
        kind: Object.entries(c).find(([, v]) => typeof v === "object" && v !== null)?.[0] ?? "",
      })),
    };
    this.lastStatus = status;
    return status;
  }

  private async tick(): Promise<void> {
    if (this.streams.size === 0) {
      this.lastStatus = null;
      return;
    }
    const status = await this.refreshStatus();
    for (const s of this.streams) s.send("status", status);
    this.sendActivity();
  }

  private sendActivity(): void {
    const entries = activity(this.opts.replica);
    const last = entries[entries.length - 1];
    const key = last ? `${last.index}:${last.cause}:${entries.length}` : "";
    if (key === this.lastActivityKey) return;
    this.lastActivityKey = key;
    for (const s of this.streams) s.send("activity", entries);
  }

  private onGraph(update: IndexedChanges | { reset: true }): void {
    if (this.streams.size === 0) return;
    if ("reset" in update) {
      void this.status().then((status) => {
        const picture = wholePicture(this.opts.replica, status);
        for (const s of this.streams) s.send("picture", picture);
      });
      return;
    }
    for (const s of this.streams) s.send("changes", update);
    // What caused the changes, without waiting for the next tick.
    this.sendActivity();
  }
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(address.slice(at + 1)) };
}
