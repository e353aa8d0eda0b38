import { plainCopy } from "./canonical.js";
import { CepDefinitionError } from "./errors.js";

/**
 * Flows: a network of event streams and behaviours (cells) built once with combinators and then
 * run once per input, as one transaction. Nodes are evaluated in the order they were defined,
 * which is a topological order because a node can only be built from nodes that already exist;
 * each node is evaluated at most once per transaction, so there are no glitches. Cells created by
 * `hold` and `accum` keep their values in the engine state; a new value becomes visible in the
 * next transaction (inside one, every sample sees the value the transaction started with).
 */

/** Shared by the closures of one flow; only touched synchronously inside one step. */
interface FlowRuntime {
  txn: number;
  time: number;
  hasEvent: boolean;
  event: unknown;
  stamp: number[];
  val: unknown[];
  cells: unknown[];
  pending: unknown[];
  dirty: number[];
}

type Evaluate = () => void;

export class Stream<T> {
  /** @internal */
  constructor(
    /** @internal */ readonly builder: FlowBuilder<unknown>,
    /** @internal */ readonly id: number,
  ) {}

  /** Each occurrence transformed by `f`. */
  map<U>(f: (value: T) => U): Stream<U> {
    const b = this.builder;
    const R = b.rt;
    const src = this.id;
    return b.stream((id) => () => {
      if (R.stamp[src] === R.txn) {
        R.val[id] = f(R.val[src] as T);
        R.stamp[id] = R.txn;
      }
    });
  }

  /** Only the occurrences that `p` accepts. */
  filter<U extends T>(p: (value: T) => value is U): Stream<U>;
  filter(p: (value: T) => boolean): Stream<T>;
  filter(p: (value: T) => boolean): Stream<T> {
    const b = this.builder;
    const R = b.rt;
    const src = this.id;
    return b.stream((id) => () => {
      if (R.stamp[src] === R.txn && p(R.val[src] as T)) {
        R.val[id] = R.val[src];
        R.stamp[id] = R.txn;
      }
    });
  }

  /** Occurrences of both streams; when both occur in one transaction, `combine(this, other)`. */
  merge(other: Stream<T>, combine: (left: T, right: T) => T): Stream<T> {
    const b = this.builder;
    b.own(other, "merge");
    const R = b.rt;
    const l = this.id;
    const r = other.id;
    return b.stream((id) => () => {
      const hasL = R.stamp[l] === R.txn;
      const hasR = R.stamp[r] === R.txn;
      if (hasL && hasR) R.val[id] = combine(R.val[l] as T, R.val[r] as T);
      else if (hasL) R.val[id] = R.val[l];
      else if (hasR) R.val[id] = R.val[r];
      else return;
      R.stamp[id] = R.txn;
    });
  }

  /** Each occurrence combined with the cell's value at the start of the transaction. */
  snapshot<C, U>(cell: Cell<C>, f: (value: T, sampled: C) => U): Stream<U> {
    const b = this.builder;
    b.own(cell, "snapshot");
    const R = b.rt;
    const src = this.id;
    const get = cell.get;
    return b.stream((id) => () => {
      if (R.stamp[src] === R.txn) {
        R.val[id] = f(R.val[src] as T, get());
        R.stamp[id] = R.txn;
      }
    });
  }

  /** The cell's value at each occurrence. */
  sample<C>(cell: Cell<C>): Stream<C> {
    return this.snapshot(cell, (_v, c) => c);
  }

  /** Only the occurrences while the cell holds `true`. */
  gate(cell: Cell<boolean>): Stream<T> {
    const b = this.builder;
    b.own(cell, "gate");
    const R = b.rt;
    const src = this.id;
    const get = cell.get;
    return b.stream((id) => () => {
      if (R.stamp[src] === R.txn && get() === true) {
        R.val[id] = R.val[src];
        R.stamp[id] = R.txn;
      }
    });
  }

  /** A cell folded over the occurrences; `changes` fires the new value in the same transaction. */
  accum<A>(initial: A, f: (acc: A, value: T) => A): StatefulCell<A> {
    const b = this.builder;
    const R = b.rt;
    const src = this.id;
    const slot = b.cell(initial);
    const changes = b.stream<A>((id) => () => {
      if (R.stamp[src] === R.txn) {
        const next = f(R.cells[slot] as A, R.val[src] as T);
        R.pending[slot] = next;
        R.dirty.push(slot);
        R.val[id] = next;
        R.stamp[id] = R.txn;
      }
    });
    return new StatefulCell<A>(b, () => R.cells[slot] as A, changes);
  }

  /** A cell holding the latest occurrence (from the next transaction on). */
  hold(initial: T): StatefulCell<T> {
    return this.accum(initial, (_old, v) => v);
  }
}

export class Cell<T> {
  /** @internal */
  constructor(
    /** @internal */ readonly builder: FlowBuilder<unknown>,
    /** @internal */ readonly get: () => T,
  ) {}

  map<U>(f: (value: T) => U): Cell<U> {
    const get = this.get;
    return new Cell(this.builder, () => f(get()));
  }

  lift<U, V>(other: Cell<U>, f: (a: T, b: U) => V): Cell<V> {
    this.builder.own(other, "lift");
    const a = this.get;
    const b = other.get;
    return new Cell(this.builder, () => f(a(), b()));
  }
}

/** A cell with its own state (from `hold` or `accum`). */
export class StatefulCell<T> extends Cell<T> {
  /** @internal */
  constructor(
    builder: FlowBuilder<unknown>,
    get: () => T,
    /** Fires the cell's new value in the transaction that changes it. */
    readonly changes: Stream<T>,
  ) {
    super(builder, get);
  }
}

export class FlowBuilder<E> {
  /** @internal */ readonly rt: FlowRuntime = {
    txn: 0,
    time: 0,
    hasEvent: false,
    event: undefined,
    stamp: [],
    val: [],
    cells: [],
    pending: [],
    dirty: [],
  };
  /** @internal */ readonly nodes: Evaluate[] = [];
  /** @internal */ readonly initialCells: unknown[] = [];
  /** Every input event. */
  readonly input: Stream<E>;
  /** Fires the time of every input that carries no event. */
  readonly ticks: Stream<number>;
  /** Logical time of the current transaction. */
  readonly time: Cell<number>;

  constructor(private readonly flowName: string) {
    const R = this.rt;
    this.input = this.stream((id) => () => {
      if (R.hasEvent) {
        R.val[id] = R.event;
        R.stamp[id] = R.txn;
      }
    }) as Stream<E>;
    this.ticks = this.stream((id) => () => {
      if (!R.hasEvent) {
        R.val[id] = R.time;
        R.stamp[id] = R.txn;
      }
    });
    this.time = new Cell(this as FlowBuilder<unknown>, () => R.time);
  }

  constant<T>(value: T): Cell<T> {
    return new Cell(this as FlowBuilder<unknown>, () => value);
  }

  /** Occurrences of the stream that `selector` currently names (a data-driven switch). */
  switchStream<K extends string, T>(selector: Cell<K>, table: Readonly<Record<K, Stream<T>>>): Stream<T> {
    this.own(selector, "switchStream");
    const entries = Object.entries(table) as [K, Stream<T>][];
    for (const [, s] of entries) this.own(s, "switchStream");
    const ids: Record<string, number> = Object.create(null) as Record<string, number>;
    for (const [k, s] of entries) ids[k] = s.id;
    const R = this.rt;
    const get = selector.get;
    return this.stream((id) => () => {
      const src = ids[get()];
      if (src !== undefined && R.stamp[src] === R.txn) {
        R.val[id] = R.val[src];
        R.stamp[id] = R.txn;
      }
    });
  }

  /** The value of the cell that `selector` currently names. */
  switchCell<K extends string, T>(selector: Cell<K>, table: Readonly<Record<K, Cell<T>>>): Cell<T> {
    this.own(selector, "switchCell");
    const getters: Record<string, () => T> = Object.create(null) as Record<string, () => T>;
    for (const [k, c] of Object.entries(table) as [K, Cell<T>][]) {
      this.own(c, "switchCell");
      getters[k] = c.get;
    }
    const get = selector.get;
    return new Cell(this as FlowBuilder<unknown>, () => {
      const key = get();
      const g = getters[key];
      if (g === undefined) throw new Error(`switchCell: no cell for selector value ${JSON.stringify(key)}`);
      return g();
    });
  }

  /** @internal */
  stream<T>(make: (id: number) => Evaluate): Stream<T> {
    const id = this.nodes.length;
    this.nodes.push(make(id));
    this.rt.stamp.push(0);
    this.rt.val.push(undefined);
    return new Stream<T>(this as FlowBuilder<unknown>, id);
  }

  /** @internal */
  cell(initial: unknown): number {
    this.initialCells.push(plainCopy(initial, `flow "${this.flowName}" cell ${this.initialCells.length}`));
    this.rt.pending.push(undefined);
    return this.initialCells.length - 1;
  }

  /** @internal */
  own(node: Stream<unknown> | Cell<unknown>, op: string): void {
    if (!(node instanceof Stream) && !(node instanceof Cell))
      throw new CepDefinitionError(`flow "${this.flowName}": ${op} needs a stream or cell of this flow`);
    if (node.builder !== (this as FlowBuilder<unknown>))
      throw new CepDefinitionError(
        `flow "${this.flowName}": ${op} mixes streams or cells of two different flows`,
      );
  }
}

/** Merges any number of streams; simultaneous occurrences are folded left to right by `combine`. */
export function mergeAll<T>(streams: readonly Stream<T>[], combine: (left: T, right: T) => T): Stream<T> {
  if (streams.length === 0) throw new CepDefinitionError("mergeAll needs at least one stream");
  return streams.slice(1).reduce((acc, s) => acc.merge(s, combine), streams[0] as Stream<T>);
}

export interface FlowOptions {
  /** Version of the cell layout; default 1. */
  readonly version?: number;
  /** Turns the cells of version `from` into the cells of this version. */
  readonly migrate?: (cells: unknown[], from: number) => unknown[];
}

/** A compiled flow, ready for an Engine. */
export interface Flow<E, O> {
  readonly kind: "flow";
  readonly name: string;
  readonly version: number;
  readonly migrate: ((cells: unknown[], from: number) => unknown[]) | undefined;
  initialCells(): unknown[];
  /**
   * Runs one transaction over `cells`; pushes emitted values to `out`. Throws if a user function
   * throws, in which case `cells` is untouched.
   * @internal
   */
  run(cells: unknown[], time: number, hasEvent: boolean, event: unknown, out: unknown[]): void;
  readonly __types?: [E, O];
}

/**
 * Defines a flow: `build` wires combinators from `f.input` and returns the stream whose
 * occurrences become the flow's outputs.
 */
export function defineFlow<E, O>(
  name: string,
  build: (f: FlowBuilder<E>) => Stream<O>,
  options: FlowOptions = {},
): Flow<E, O> {
  if (typeof name !== "string" || name.length === 0 || name.includes("/"))
    throw new CepDefinitionError(`flow name ${JSON.stringify(name)}: use a non-empty name without "/"`);
  const version = options.version ?? 1;
  if (!Number.isSafeInteger(version) || version < 1)
    throw new CepDefinitionError(`flow "${name}": version must be a positive integer`);
  const builder = new FlowBuilder<E>(name);
  const out = build(builder);
  builder.own(out as Stream<unknown>, "the returned output");
  const outId = out.id;
  const R = builder.rt;
  const nodes = builder.nodes.slice(0, outId + 1); // nodes after the output cannot affect it
  const initial = builder.initialCells;
  return Object.freeze({
    kind: "flow" as const,
    name,
    version,
    migrate: options.migrate,
    initialCells: () => plainCopy(initial),
    run(cells: unknown[], time: number, hasEvent: boolean, event: unknown, sink: unknown[]): void {
      R.txn++;
      R.time = time;
      R.hasEvent = hasEvent;
      R.event = event;
      R.cells = cells;
      if (R.dirty.length !== 0) R.dirty.length = 0;
      try {
        for (let i = 0; i < nodes.length; i++) (nodes[i] as Evaluate)();
      } finally {
        R.event = undefined;
      }
      const dirty = R.dirty;
      for (let i = 0; i < dirty.length; i++) {
        const slot = dirty[i] as number;
        cells[slot] = R.pending[slot];
      }
      if (R.stamp[outId] === R.txn) sink.push(R.val[outId]);
    },
  });
}
