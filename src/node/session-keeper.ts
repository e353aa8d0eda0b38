// The node service's session with the coordinator's leader (docs/node.md,
// "Liveness"): a RenewSession call every interval, through the client
// library, which keeps the replica that last answered as leader, follows a
// follower's hint to the new one, and gives up a renewal within the interval
// (the next one tries again). Renewals do not enter the log. From each answer
// the node learns the leader's term (fencing) and what the graph says of it;
// when the graph is behind (the node not online, e.g. after it was declared
// silent, or an older acknowledged epoch) it says so once with a NodeHeartbeat
// event, which does enter the log: only changes do.
// Against a coordinator without RenewSession (UNIMPLEMENTED: an older
// version during an upgrade) it falls back to a heartbeat event per interval.
import { status, type ServiceError } from "@grpc/grpc-js";
import type { RenewSessionRequest, RenewSessionResponse } from "../gen/halon/v1/client.js";
import type { Logger } from "../log/logger.js";

/** What the keeper needs of ClusterClient. */
export interface SessionSink {
  renewSession(req: RenewSessionRequest, timeoutMs: number): Promise<RenewSessionResponse>;
}

export interface SessionKeeperOptions {
  nodeId: string;
  incarnation: string;
  intervalMs: number;
  sink: SessionSink;
  /** The node's current epoch. */
  epoch(): number;
  /** The leader's term from an answer (the node records it for fencing). */
  onTerm(term: number): void;
  /** Send one NodeHeartbeat event (the graph is behind, or the fallback). */
  heartbeatEvent(): void;
  logger: Logger;
}

/** Renewals between two catch-up heartbeats for the same difference: the first may still be on its way. */
const CATCH_UP_EVERY = 5;

export class SessionKeeper {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private fallback = false;
  private sinceCatchUp = CATCH_UP_EVERY;
  private failuresInARow = 0;
  /** Counters, for tests, logs and bench-nodes. */
  readonly stats = { renewed: 0, failed: 0, catchUps: 0, leaderId: "" };

  constructor(private readonly opts: SessionKeeperOptions) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (this.fallback) {
      this.opts.heartbeatEvent();
      return;
    }
    if (this.inFlight) return;
    this.inFlight = true;
    const epoch = this.opts.epoch();
    this.opts.sink
      .renewSession(
        { nodeId: this.opts.nodeId, epoch, incarnation: this.opts.incarnation },
        this.opts.intervalMs,
      )
      .then(
        (res) => this.answered(res, epoch),
        (err: ServiceError) => this.failed(err),
      )
      .finally(() => (this.inFlight = false));
  }

  private answered(res: RenewSessionResponse, epoch: number): void {
    this.stats.renewed++;
    if (this.failuresInARow > 0 || res.leaderId !== this.stats.leaderId)
      this.opts.logger.info(
        { leader: res.leaderId, term: res.term, failedBefore: this.failuresInARow },
        "session with the leader",
      );
    this.failuresInARow = 0;
    this.stats.leaderId = res.leaderId;
    if (res.term > 0) this.opts.onTerm(res.term);
    this.sinceCatchUp++;
    const behind = res.nodeState !== "online" || res.ackedEpoch < epoch;
    if (behind && this.sinceCatchUp >= CATCH_UP_EVERY) {
      this.sinceCatchUp = 0;
      this.stats.catchUps++;
      this.opts.logger.info(
        { nodeState: res.nodeState, ackedEpoch: res.ackedEpoch, epoch },
        "the coordinator's graph is behind: telling it",
      );
      this.opts.heartbeatEvent();
    }
  }

  private failed(err: ServiceError): void {
    this.stats.failed++;
    if (err.code === status.UNIMPLEMENTED) {
      this.fallback = true;
      this.opts.logger.warn({}, "the coordinator has no RenewSession: heartbeats go through the log instead");
      this.opts.heartbeatEvent();
      return;
    }
    // NOT_FOUND: the join is not applied yet; it is queued and will be.
    if (err.code === status.NOT_FOUND) return;
    if (++this.failuresInARow === 3)
      this.opts.logger.warn({ err: err.details || err.message }, "session renewals failing");
  }
}
