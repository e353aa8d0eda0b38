// A TCP proxy for tests that can hold what clients send: while held, the bytes
// each connection sends are kept (TCP accepts them, nothing is lost or
// reordered) and reach the server only on release(), as a slow network would
// deliver them. Answers from the server always pass. TLS runs through it end to
// end, so a delayed gRPC call arrives later exactly as it was sent.
import { createServer, connect, type Server, type Socket } from "node:net";

export class HoldProxy {
  private holding = false;
  private readonly held = new Map<Socket, Buffer[]>();
  private readonly sockets = new Set<Socket>();
  /** Bytes kept since the last hold() began. */
  heldBytes = 0;

  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {}

  /** Listens on listenAddress ("127.0.0.1:port") and forwards every connection to target. */
  static async start(listenAddress: string, target: string): Promise<HoldProxy> {
    const [host, port] = splitAddress(listenAddress);
    const [toHost, toPort] = splitAddress(target);
    const server = createServer();
    const proxy = new HoldProxy(server, listenAddress);
    server.on("connection", (client: Socket) => proxy.accept(client, toHost, toPort));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return proxy;
  }

  hold(): void {
    this.holding = true;
    this.heldBytes = 0;
  }

  /** Sends everything kept, in order, and lets later bytes through. */
  release(): void {
    this.holding = false;
    for (const [upstream, chunks] of this.held) for (const c of chunks) upstream.write(c);
    this.held.clear();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      if (this.holding || this.held.has(upstream)) {
        const kept = this.held.get(upstream) ?? [];
        kept.push(chunk);
        this.held.set(upstream, kept);
        this.heldBytes += chunk.length;
      } else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  }
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(":");
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
