// The two promises every InfraService side keeps, whatever actually respawns
// the node: fencing (a request from a leader term older than the highest seen
// is refused: a deposed leader cannot respawn anything) and idempotence (the
// same command, by id and issuing entry, is carried out once; a repeat gets
// the first answer, or waits for it while the first is still running).
import type { RespawnNodeRequest } from "../../gen/halon/v1/infra.js";

export interface RespawnAnswer {
  ok: boolean;
  detail: string;
}

/** The request's leader term is older than one already seen. */
export class FencedError extends Error {
  override name = "FencedError";
}

/** Answers kept; the leader redelivers a command only while it is pending. */
const REMEMBERED = 1_024;

export class FencedOnce {
  private highest = 0;
  private readonly answers = new Map<string, Promise<RespawnAnswer>>();

  /**
   * Runs `respawn` for the request unless it is fenced (throws FencedError)
   * or was run already (the first answer, marked as a repeat).
   */
  run(req: RespawnNodeRequest, respawn: () => Promise<RespawnAnswer>): Promise<RespawnAnswer> {
    if (req.leaderTerm < this.highest)
      throw new FencedError(
        `term ${req.leaderTerm} of leader "${req.leaderId}" is older than term ${this.highest} already seen: that leader was deposed`,
      );
    if (req.issuedTerm > req.leaderTerm)
      throw new FencedError(
        `command ${req.commandId} was issued in term ${req.issuedTerm}, after the delivering leader's term ${req.leaderTerm}`,
      );
    this.highest = req.leaderTerm;
    const key = `${req.commandId}@${req.issuedIndex}/${req.issuedTerm}`;
    const known = this.answers.get(key);
    if (known) return known.then((a) => ({ ok: a.ok, detail: `${a.detail} (already done)` }));
    const answer = respawn().catch((err: unknown): RespawnAnswer => ({
      ok: false,
      detail: `internal error: ${err instanceof Error ? err.message : String(err)}`,
    }));
    this.answers.set(key, answer);
    if (this.answers.size > REMEMBERED) this.answers.delete(this.answers.keys().next().value!);
    return answer;
  }
}
