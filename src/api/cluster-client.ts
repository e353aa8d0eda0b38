// A client of a whole cluster: asks any replica, follows the leader's address
// that a follower names, and retries while an election is under way. Used by
// the CLI, the end-to-end tests and the benchmark.
import { Metadata, status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import {
  HalonServiceClient,
  type GetEpochResponse,
  type GetGraphResponse,
  type RulesResponse,
  type GetOutboxResponse,
  type ExplainResponse,
  type GetHistoryResponse,
  type GraphUpdate,
  type SubmitEventsResponse,
  type MembershipResponse,
  type ProposeResponse,
  type ReplicaStatus,
  type TransferLeadershipResponse,
  type RenewSessionRequest,
  type RenewSessionResponse,
} from "../gen/halon/v1/client.js";
import type { Event } from "../gen/halon/v1/events.js";
import { secureChannel, type TlsSource } from "../raft/transport/tls.js";
import { EventBatcher, type EventBatcherOptions } from "./event-batcher.js";
import { LEADER_ADDRESS_TRAILER } from "./halon-service.js";

export interface ClusterClientOptions {
  /** Client addresses of the replicas (host:port). */
  addresses: string[];
  tls?: TlsSource;
  /** How long one call may take. */
  callTimeoutMs?: number;
  /** How long to keep looking for a leader before giving up. */
  leaderTimeoutMs?: number;
}

/** How a read is made: linearizable (the default), or stale (this replica's applied state, at once). */
export interface ReadOptions {
  stale?: boolean;
}

type Unary<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: { deadline: number },
  cb: (err: ServiceError | null, res?: Res) => void,
) => void;

export class ClusterClient {
  private readonly clients = new Map<string, HalonServiceClient>();
  /** Where the last call found the leader; tried first next time. */
  private leaderHint: string | null = null;
  /**
   * Which replica to try next when no leader is known: after the one that last
   * failed, across calls, so that a replica that hangs (stopped, partitioned)
   * is not the first one every call tries. A short call (a session renewal)
   * may have time for one attempt only, and must still find the leader.
   */
  private nextReplica = 0;
  private readonly callTimeoutMs: number;
  private readonly leaderTimeoutMs: number;

  constructor(private readonly options: ClusterClientOptions) {
    this.callTimeoutMs = options.callTimeoutMs ?? 10_000;
    this.leaderTimeoutMs = options.leaderTimeoutMs ?? 15_000;
  }

  /** One replica's status; rejects when it does not answer. */
  status(address: string): Promise<ReplicaStatus> {
    return this.call(address, (c) => c.getStatus.bind(c) as Unary<object, ReplicaStatus>, {}, 3_000);
  }

  /** Every replica's status, or the error it gave. */
  statusAll(): Promise<{ address: string; status?: ReplicaStatus; error?: string }[]> {
    return Promise.all(
      this.options.addresses.map((address) =>
        this.status(address).then(
          (s) => ({ address, status: s }),
          (err: ServiceError) => ({ address, error: err.details || err.message }),
        ),
      ),
    );
  }

  propose(payload: Uint8Array): Promise<ProposeResponse> {
    return this.onLeader((c) => c.propose.bind(c) as Unary<object, ProposeResponse>, {
      payload: Buffer.from(payload),
    });
  }

  addMember(id: string): Promise<MembershipResponse> {
    return this.onLeader((c) => c.addMember.bind(c) as Unary<object, MembershipResponse>, { id });
  }

  /** Refused unless the learner has caught up and a live quorum remains; `force` skips those checks. */
  promoteMember(id: string, force = false): Promise<MembershipResponse> {
    return this.onLeader((c) => c.promoteMember.bind(c) as Unary<object, MembershipResponse>, {
      id,
      force,
    });
  }

  /** Refused when the voters left would have no live quorum; `force` skips that check. */
  removeMember(id: string, force = false): Promise<MembershipResponse> {
    return this.onLeader((c) => c.removeMember.bind(c) as Unary<object, MembershipResponse>, {
      id,
      force,
    });
  }

  transferLeadership(targetId: string | null): Promise<TransferLeadershipResponse> {
    return this.onLeader((c) => c.transferLeadership.bind(c) as Unary<object, TransferLeadershipResponse>, {
      targetId: targetId ?? "",
    });
  }

  /** Submits domain events on the leader; one outcome per event once applied. */
  submitEvents(events: Event[]): Promise<SubmitEventsResponse> {
    return this.onLeader((c) => c.submitEvents.bind(c) as Unary<object, SubmitEventsResponse>, { events });
  }

  /**
   * Submits events one at a time, sent several per call when they come faster
   * than calls return (see event-batcher.ts): `batcher().submit(event)`.
   */
  batcher(options: EventBatcherOptions = {}): EventBatcher {
    return new EventBatcher(this, options);
  }

  /**
   * The resource graph (or one resource and its neighbours), asked of the
   * leader when one is known, any replica otherwise. Linearizable: it shows
   * every write acknowledged before the call. `stale` answers from the
   * replica's applied state at once (appliedIndex says where), without the
   * ReadIndex round.
   */
  getGraph(resourceId = "", read: ReadOptions = {}): Promise<GetGraphResponse> {
    return this.onLeader((c) => c.getGraph.bind(c) as Unary<object, GetGraphResponse>, {
      resourceId,
      stale: read.stale ?? false,
    });
  }

  /** The same from one replica, by address. */
  getGraphAt(address: string, resourceId = "", read: ReadOptions = {}): Promise<GetGraphResponse> {
    return this.call(
      address,
      (c) => c.getGraph.bind(c) as Unary<object, GetGraphResponse>,
      { resourceId, stale: read.stale ?? false },
      this.callTimeoutMs,
    );
  }

  getEpoch(read: ReadOptions = {}): Promise<GetEpochResponse> {
    return this.onLeader((c) => c.getEpoch.bind(c) as Unary<object, GetEpochResponse>, {
      stale: read.stale ?? false,
    });
  }

  getOutbox(read: ReadOptions = {}): Promise<GetOutboxResponse> {
    return this.onLeader((c) => c.getOutbox.bind(c) as Unary<object, GetOutboxResponse>, {
      stale: read.stale ?? false,
    });
  }

  /** The rules version, the rules switched off and the faults recorded (from the leader). */
  getRules(read: ReadOptions = {}): Promise<RulesResponse> {
    return this.onLeader((c) => c.getRules.bind(c) as Unary<object, RulesResponse>, {
      stale: read.stale ?? false,
    });
  }

  /** Writes a rules-version entry: run `version`, with `disabledRules` switched off (empty: all on). */
  changeRules(version: number, disabledRules: string[]): Promise<RulesResponse> {
    return this.onLeader((c) => c.changeRules.bind(c) as Unary<object, RulesResponse>, {
      version,
      disabledRules,
    });
  }

  /**
   * Recent history (about one resource when resourceId is given), from the
   * leader when one is known: each replica keeps its own, from when it started.
   */
  getHistory(resourceId = "", limit = 0, read: ReadOptions = {}): Promise<GetHistoryResponse> {
    return this.onLeader((c) => c.getHistory.bind(c) as Unary<object, GetHistoryResponse>, {
      resourceId,
      limit,
      stale: read.stale ?? false,
    });
  }

  /** Why a resource is in its state, from the leader when one is known. */
  explain(resourceId: string, read: ReadOptions = {}): Promise<ExplainResponse> {
    return this.onLeader((c) => c.explain.bind(c) as Unary<object, ExplainResponse>, {
      resourceId,
      stale: read.stale ?? false,
    });
  }

  /** A stream of graph changes from one replica; the caller resumes elsewhere from the last index when it ends. */
  watchGraph(address: string, fromIndex: number): ClientReadableStream<GraphUpdate> {
    return this.client(address).watchGraph({ fromIndex });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  /**
   * Calls the leader: starts with the last known one, follows a follower's
   * hint, and tries every replica in turn while no leader is known.
   */
  /**
   * A node service's lease renewal, on the leader: the replica that last
   * answered as leader first, a follower's hint followed at once, another
   * replica tried at once when one refuses the connection. Given up after
   * `timeoutMs` (the renewal interval): the next renewal tries again, from
   * the start of the list if this one found no leader.
   */
  renewSession(req: RenewSessionRequest, timeoutMs: number): Promise<RenewSessionResponse> {
    return this.onLeader((c) => c.renewSession.bind(c) as Unary<object, RenewSessionResponse>, req, {
      callTimeoutMs: timeoutMs,
      leaderTimeoutMs: timeoutMs,
    });
  }

  /** The replica that last answered as leader (the preferred one), or null while none is known. */
  get preferredReplica(): string | null {
    return this.leaderHint;
  }

  private async onLeader<Res>(
    method: (c: HalonServiceClient) => Unary<object, Res>,
    req: object,
    limits: { callTimeoutMs: number; leaderTimeoutMs: number } = {
      callTimeoutMs: this.callTimeoutMs,
      leaderTimeoutMs: this.leaderTimeoutMs,
    },
  ): Promise<Res> {
    const giveUpAt = Date.now() + limits.leaderTimeoutMs;
    let lastError: ServiceError | null = null;
    // At least one attempt, however short the timeout (a millisecond may pass before the check).
    for (let attempt = 0; attempt === 0 || Date.now() < giveUpAt; attempt++) {
      const addresses = this.options.addresses;
      const address = this.leaderHint ?? addresses[this.nextReplica % addresses.length]!;
      try {
        const res = await this.call(address, method, req, limits.callTimeoutMs);
        this.leaderHint = address;
        return res;
      } catch (err) {
        const e = err as ServiceError;
        lastError = e;
        this.leaderHint = null;
        const failed = addresses.indexOf(address);
        this.nextReplica = (failed >= 0 ? failed : this.nextReplica) + 1;
        if (e.code === status.FAILED_PRECONDITION) {
          const hint = e.metadata?.get(LEADER_ADDRESS_TRAILER)[0];
          if (typeof hint === "string" && hint !== address) {
            this.leaderHint = hint;
            continue;
          }
        } else if (e.code !== status.UNAVAILABLE && e.code !== status.DEADLINE_EXCEEDED) {
          throw e;
        }
        // No leader known or the replica is down: wait a little, then try the next one.
        if (attempt >= this.options.addresses.length - 1) await sleep(Math.min(50, 10 * attempt));
      }
    }
    throw lastError ?? new Error("no replica answered");
  }

  private call<Res>(
    address: string,
    method: (c: HalonServiceClient) => Unary<object, Res>,
    req: object,
    timeoutMs: number,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      method(this.client(address))(req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res!),
      );
    });
  }

  private client(address: string): HalonServiceClient {
    let c = this.clients.get(address);
    if (!c) {
      const secure = secureChannel(this.options.tls, address);
      c = new HalonServiceClient(address, secure.credentials, {
        ...secure.options,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 1_000,
        // A whole resource graph (GetGraph, the first WatchGraph update) can be far over grpc's 4 MiB default.
        "grpc.max_receive_message_length": 512 * 1024 * 1024,
      });
      this.clients.set(address, c);
    }
    return c;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
