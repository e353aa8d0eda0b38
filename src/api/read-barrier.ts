// Linearizable reads, many at a time: one ReadIndex round serves every read
// that arrived before it started (etcd's linearizableReadLoop). A read that
// arrives while a round is under way waits for the next one: the round under
// way may have learned its commit index before the read arrived, and a read
// must see every write acknowledged before it.

export class ReadBarrier {
  private current: Promise<number> | null = null;
  private next: Promise<number> | null = null;

  /** @param readIndex one ReadIndex round: resolves once the local state applied the leader's commit index. */
  constructor(private readonly readIndex: () => Promise<number>) {}

  /** Resolves with a read index once this replica's applied state is linearizable for a read made now. */
  wait(): Promise<number> {
    if (this.current === null) {
      this.current = this.round();
      return this.current;
    }
    this.next ??= this.current.then(
      () => this.following(),
      () => this.following(),
    );
    return this.next;
  }

  private round(): Promise<number> {
    const p = this.readIndex();
    const done = () => {
      if (this.current === p) this.current = null;
    };
    p.then(done, done);
    return p;
  }

  /** The round queued behind the current one starts now (a fresh ReadIndex for every read that waited). */
  private following(): Promise<number> {
    const p = this.round();
    this.current = p;
    this.next = null;
    return p;
  }
}
