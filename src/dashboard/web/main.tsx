// The dashboard page: live over server-sent events from /api/events (the whole
// picture, then each applied entry's graph changes, the replicas' status every
// second, and the recent activity). Rendered with Preact, bundled by esbuild.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  displayState,
  GraphModel,
  type Resource,
  type WireChange,
  type WireResource,
  type Edge,
  type StatusMessage as Status,
} from "./model.js";
import "./style.css";

interface HistoryEntry {
  index: number;
  timeMs: number;
  cause: string;
  resourceIds: string[];
  steps: string[];
}

interface Picture {
  cluster: string;
  index: number;
  graph: { resources: WireResource[]; edges: Edge[] };
  status: Status;
  activity: HistoryEntry[];
  historyKeptFrom: number;
}

interface Detail {
  neighbourhood: { resources: WireResource[]; edges: Edge[] };
  history: { entries: HistoryEntry[]; keptFromIndex: number };
  explain: { summary: string; steps: HistoryEntry[]; resource?: WireResource };
}

interface View {
  cluster: string;
  index: number;
  graph: GraphModel;
  status: Status | null;
  activity: HistoryEntry[];
  /** Bumped on every change, so that Preact re-renders the mutable model. */
  version: number;
}

function useLive(): { view: View | null; live: boolean } {
  const [view, setView] = useState<View | null>(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    const source = new EventSource("/api/events");
    let current: View | null = null;
    const update = (v: View) => {
      current = { ...v, version: v.version + 1 };
      setView(current);
    };
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("error", () => setLive(false));
    source.addEventListener("picture", (e) => {
      const p = JSON.parse((e as MessageEvent<string>).data) as Picture;
      update({
        cluster: p.cluster,
        index: p.index,
        graph: GraphModel.from(p.graph),
        status: p.status,
        activity: p.activity,
        version: 0,
      });
    });
    source.addEventListener("changes", (e) => {
      if (!current) return;
      const u = JSON.parse((e as MessageEvent<string>).data) as { index: number; changes: WireChange[] };
      current.graph.apply(u.changes);
      update({ ...current, index: u.index });
    });
    source.addEventListener("status", (e) => {
      if (current) update({ ...current, status: JSON.parse((e as MessageEvent<string>).data) as Status });
    });
    source.addEventListener("activity", (e) => {
      if (current)
        update({ ...current, activity: JSON.parse((e as MessageEvent<string>).data) as HistoryEntry[] });
    });
    return () => source.close();
  }, []);
  return { view, live };
}

function Box(props: {
  r: Resource;
  selected: string | null;
  onSelect: (id: string) => void;
  children?: preact.ComponentChildren;
}) {
  const { r, selected, onSelect } = props;
  const state = displayState(r);
  const extra = r.kind === "Process" && r.attrs.recovering === true ? " · recovering" : "";
  return (
    <div
      class={`box ${r.kind} state-${state}${selected === r.id ? " selected" : ""}`}
      data-id={r.id}
      data-kind={r.kind}
      data-state={state}
      title={`${r.kind} ${r.id}`}
      onClick={(e) => {
        e.stopPropagation();
        onSelect(r.id);
      }}
    >
      <div class="label">
        <span>{r.id}</span>
        <span class="st">
          {r.kind === "Rack" || r.kind === "Enclosure"
            ? r.kind.toLowerCase()
            : `${String(r.attrs.state ?? "")}${extra}`}
        </span>
      </div>
      {props.children ? <div class="kids">{props.children}</div> : null}
    </div>
  );
}

function Topology(props: { g: GraphModel; selected: string | null; onSelect: (id: string) => void }) {
  const { g, selected, onSelect } = props;
  const box = (r: Resource, kids?: preact.ComponentChildren) => (
    <Box key={r.id} r={r} selected={selected} onSelect={onSelect}>
      {kids}
    </Box>
  );
  const cluster = g.ofKind("Cluster")[0];
  const racks = cluster ? g.out(cluster.id, "has", "Rack") : g.ofKind("Rack");
  return (
    <div class="racks">
      {racks.map((rack) =>
        box(
          rack,
          g.out(rack.id, "has", "Enclosure").map((encl) =>
            box(
              encl,
              g.out(encl.id, "has", "Host").map((host) =>
                box(host, [
                  ...g.out(host.id, "runs", "Node").map((node) =>
                    box(
                      node,
                      g.out(node.id, "runs", "Process").map((p) =>
                        box(
                          p,
                          g.out(p.id, "provides", "Service").map((s) => box(s)),
                        ),
                      ),
                    ),
                  ),
                  ...g.out(host.id, "has", "Disk").map((d) => box(d)),
                ]),
              ),
            ),
          ),
        ),
      )}
    </div>
  );
}

function Pools(props: { g: GraphModel; epoch: number; onSelect: (id: string) => void }) {
  const pools = props.g.ofKind("Pool");
  return (
    <section class="pools">
      <h2>
        Pools · cluster epoch <span data-cluster-epoch>{props.epoch}</span>
      </h2>
      <table>
        <thead>
          <tr>
            <th>pool</th>
            <th>epoch</th>
            <th>failure vector</th>
            <th>disks</th>
          </tr>
        </thead>
        <tbody>
          {pools.map((p) => {
            const vector = (p.attrs.failureVector as string[] | undefined) ?? [];
            return (
              <tr key={p.id} data-pool={p.id} onClick={() => props.onSelect(p.id)}>
                <td>{p.id}</td>
                <td class="epoch">{String(p.attrs.epoch ?? 0)}</td>
                <td class="vector">{vector.length ? vector.join(", ") : "—"}</td>
                <td>
                  {props.g
                    .out(p.id, "uses", "Disk")
                    .map((d) => d.id)
                    .join(", ")}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function Replicas(props: { status: Status | null }) {
  const rows = props.status?.replicas ?? [];
  return (
    <section>
      <h2>Replicas</h2>
      <table class="replicas">
        <thead>
          <tr>
            <th>id</th>
            <th>role</th>
            <th>term</th>
            <th>commit</th>
            <th>applied</th>
            <th>lag</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} data-replica={r.id} title={r.error ?? r.stateHash}>
              <td>{r.id}</td>
              <td>{r.role}</td>
              <td>{r.term ?? "–"}</td>
              <td>{r.commitIndex ?? "–"}</td>
              <td>{r.appliedIndex ?? "–"}</td>
              <td class={r.lag ? "lagging" : ""}>{r.lag ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.status && props.status.outbox.length > 0 ? (
        <p>Outbox: {props.status.outbox.map((c) => `${c.id} ${c.kind} → ${c.target}`).join("; ")}</p>
      ) : null}
    </section>
  );
}

function Entries(props: { entries: HistoryEntry[] }) {
  return (
    <div class="activity">
      {props.entries.map((e) => (
        <div key={`${e.index}-${e.cause}`}>
          <div class="cause">
            #{e.index} {e.timeMs ? new Date(e.timeMs).toLocaleTimeString() : ""} {e.cause}
          </div>
          {e.steps.map((s, i) => (
            <div class="step" key={i}>
              {s}
            </div>
          ))}
        </div>
      ))}
    </div>
  );
}

function Selected(props: { id: string; version: number }) {
  const [detail, setDetail] = useState<Detail | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    let stop = false;
    fetch(`/api/resource/${encodeURIComponent(props.id)}`)
      .then(async (r) => {
        const body = (await r.json()) as Detail & { error?: string };
        if (stop) return;
        if (!r.ok) setError(body.error ?? r.statusText);
        else {
          setError("");
          setDetail(body);
        }
      })
      .catch((e: unknown) => !stop && setError(String(e)));
    return () => {
      stop = true;
    };
  }, [props.id, props.version]);
  if (error) return <section class="detail">{error}</section>;
  if (!detail) return <section class="detail">loading {props.id}…</section>;
  const attrs = detail.explain.resource?.attributes ?? {};
  return (
    <section class="detail" data-detail={props.id}>
      <h2>
        {detail.explain.resource?.kind} {props.id}
      </h2>
      <table>
        <tbody>
          {Object.entries(attrs).map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Why</h2>
      <p class="summary">{detail.explain.summary}</p>
      <Entries entries={detail.explain.steps} />
      <h2>History</h2>
      <Entries entries={detail.history.entries} />
    </section>
  );
}

/** The cluster epoch as the graph has it (live), else as the last status said. */
function clusterEpoch(view: View): number {
  const epoch = view.graph.ofKind("Cluster")[0]?.attrs.epoch;
  return typeof epoch === "number" ? epoch : (view.status?.epoch ?? 0);
}

function App(props: { replicaId: string }) {
  const { view, live } = useLive();
  const [selected, setSelected] = useState<string | null>(null);
  if (!view)
    return (
      <header>
        <h1>Halon · {props.replicaId}</h1>
        <span>connecting…</span>
      </header>
    );
  const self = view.status?.self;
  const lagging = self && self.role !== "leader" && (self.lag ?? 0) > 0;
  return (
    <div>
      <header>
        <h1>Halon · {view.cluster}</h1>
        <span data-self-role={self?.role}>
          replica {props.replicaId} · {self?.role ?? "?"} · term {self?.term ?? "?"}
        </span>
        <span>applied index {Math.max(view.index, self?.appliedIndex ?? 0)}</span>
        <span data-self-lag={self?.lag ?? ""}>lag {self?.lag ?? "?"}</span>
        <span class={live ? "conn-live" : "conn-lost"}>{live ? "live" : "reconnecting…"}</span>
      </header>
      {lagging ? (
        <div class="banner">
          This follower is {self.lag} entries behind the leader: what it shows may be late.
        </div>
      ) : null}
      <main>
        <div>
          <section>
            <h2>Resources</h2>
            <Topology g={view.graph} selected={selected} onSelect={setSelected} />
          </section>
          <Pools g={view.graph} epoch={clusterEpoch(view)} onSelect={setSelected} />
          <Replicas status={view.status} />
        </div>
        <div>
          {selected ? (
            <Selected id={selected} version={view.version} />
          ) : (
            <section>Select a resource to see its attributes, history and why it is in its state.</section>
          )}
          <section>
            <h2>Recent events and commands</h2>
            <Entries entries={view.activity.slice().reverse()} />
          </section>
        </div>
      </main>
    </div>
  );
}

const root = document.getElementById("app");
if (root) render(<App replicaId={root.dataset.replica ?? ""} />, root);
