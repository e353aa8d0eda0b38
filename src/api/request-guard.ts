// Requests that cannot be decoded get INVALID_ARGUMENT naming the field, not
// grpc-js's "INTERNAL: Error deserializing request". grpc-js answers INTERNAL
// whenever a deserializer throws, so the guarded deserializer never throws:
// it hands the handler a marked request, and the guarded handler answers the
// marked request with the error. The generated decoder refuses a uint64 above
// 2^53 - 1 without saying where; the explanation walks the bytes with the
// message's descriptor (from proto/) to name the field, e.g.
// "events[2].process_failed.instance".
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { GrpcError, toServiceError } from "./grpc-errors.js";

/** Set on a request the deserializer could not decode: the handler answers with it. */
export const BAD_REQUEST = Symbol("halon.badRequest");

type Marked = { [BAD_REQUEST]?: GrpcError };

/** The error marked on a request, if any. */
export function badRequest(request: unknown): GrpcError | undefined {
  return typeof request === "object" && request !== null ? (request as Marked)[BAD_REQUEST] : undefined;
}

/** The service with deserializers that never throw (see badRequest). */
export function guardService<S extends ServiceDefinition>(service: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    const typeName = requestTypeOf(method.path);
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch {
          return { [BAD_REQUEST]: new GrpcError(status.INVALID_ARGUMENT, explain(typeName, bytes)) };
        }
      },
    };
  }
  return out as S;
}

/**
 * The handlers, each answering a marked request with its error before doing
 * anything (unary calls and server streams: what the Halon services use).
 */
export function guardHandlers<I extends object>(service: ServiceDefinition, impl: I): I {
  const out: Record<string, unknown> = { ...(impl as Record<string, unknown>) };
  for (const [name, method] of Object.entries(service)) {
    const handler = (impl as UntypedServiceImplementation)[name];
    if (typeof handler !== "function" || method.requestStream) continue;
    out[name] = method.responseStream
      ? (call: ServerWritableStream<unknown, unknown>) => {
          const bad = badRequest(call.request);
          if (bad) call.emit("error", toServiceError(bad));
          else (handler as (c: typeof call) => void)(call);
        }
      : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          const bad = badRequest(call.request);
          if (bad) callback(toServiceError(bad));
          else (handler as (c: typeof call, cb: typeof callback) => void)(call, callback);
        };
  }
  return out as I;
}

// ---------------------------------------------------------------- explanations

interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
}

const PACKAGE = "halon.v1";
const SIXTY_FOUR_BIT = new Set(["TYPE_UINT64", "TYPE_INT64", "TYPE_SINT64", "TYPE_FIXED64", "TYPE_SFIXED64"]);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_DEPTH = 32;

let descriptors: Map<string, MessageDescriptor> | null | undefined;

/** The message descriptors of proto/halon/v1, by full name; null when the .proto files are not shipped. */
function messageDescriptors(): Map<string, MessageDescriptor> | null {
  if (descriptors !== undefined) return descriptors;
  // src/api and dist/api both sit two levels below the package root.
  const root = fileURLToPath(new URL("../../proto", import.meta.url));
  const dir = `${root}/halon/v1`;
  descriptors = null;
  if (!existsSync(dir)) return descriptors;
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".proto"))
      .map((f) => `halon/v1/${f}`);
    const def = loadSync(files, { includeDirs: [root], keepCase: true });
    const map = new Map<string, MessageDescriptor>();
    for (const [name, entry] of Object.entries(def)) {
      const t = (entry as { format?: string; type?: MessageDescriptor }).type;
      if ((entry as { format?: string }).format?.includes("DescriptorProto") && t && Array.isArray(t.field))
        map.set(name, t);
    }
    descriptors = map;
  } catch {
    descriptors = null;
  }
  return descriptors;
}

/** "/halon.v1.HalonService/SubmitEvents" -> the request message's full name, when known. */
function requestTypeOf(path: string): string | undefined {
  const [, service, method] = /^\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
  if (service === undefined || method === undefined) return undefined;
  const root = fileURLToPath(new URL("../../proto", import.meta.url));
  if (!existsSync(root)) return undefined;
  // The convention of these services: <Method>Request.
  return `${service.slice(0, service.lastIndexOf("."))}.${method}Request`;
}

/** Why a request's bytes do not decode, naming the field when the descriptors allow. */
export function explain(typeName: string | undefined, bytes: Uint8Array): string {
  const fallback =
    "the request does not decode: malformed bytes, or an integer above 2^53 - 1 (9007199254740991), the largest this server accepts";
  const all = messageDescriptors();
  const desc = typeName === undefined ? undefined : all?.get(typeName);
  if (!all || !desc) return fallback;
  try {
    return walk(all, desc, bytes, "", 0) ?? fallback;
  } catch {
    return `the request is not a valid ${shortName(typeName as string)} message (malformed bytes)`;
  }
}

function shortName(full: string): string {
  return full.slice(full.lastIndexOf(".") + 1);
}

function lookup(all: Map<string, MessageDescriptor>, typeName: string): MessageDescriptor | undefined {
  const name = typeName.startsWith(".") ? typeName.slice(1) : typeName;
  return all.get(name) ?? all.get(`${PACKAGE}.${name}`);
}

/** The first field whose value cannot be taken, as "path: why"; null when none is found. */
function walk(
  all: Map<string, MessageDescriptor>,
  desc: MessageDescriptor,
  bytes: Uint8Array,
  path: string,
  depth: number,
): string | null {
  if (depth > MAX_DEPTH) return `${path || "request"}: nested too deeply`;
  const reader = new BinaryReader(bytes);
  const seen = new Map<number, number>();
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    const field = desc.field.find((f) => f.number === no);
    if (field === undefined) {
      reader.skip(wireType);
      continue;
    }
    let name = path === "" ? field.name : `${path}.${field.name}`;
    if (field.label === "LABEL_REPEATED") {
      const i = seen.get(no) ?? 0;
      seen.set(no, i + 1);
      name = `${name}[${i}]`;
    }
    if (field.type === "TYPE_MESSAGE" && wireType === WireType.LengthDelimited) {
      const sub = lookup(all, field.typeName);
      const inner = reader.bytes();
      if (sub) {
        const problem = walk(all, sub, inner, name, depth + 1);
        if (problem) return problem;
      }
    } else if (SIXTY_FOUR_BIT.has(field.type)) {
      const values: bigint[] = [];
      if (wireType === WireType.LengthDelimited) {
        const packed = new BinaryReader(reader.bytes());
        while (packed.pos < packed.len) values.push(read64(packed, field.type));
      } else values.push(read64(reader, field.type));
      for (const v of values)
        if (v > MAX_SAFE || v < -MAX_SAFE)
          return `${name}: ${v} is out of range; the largest integer this server accepts is 2^53 - 1 (9007199254740991)`;
    } else reader.skip(wireType);
  }
  return null;
}

function read64(reader: BinaryReader, type: string): bigint {
  switch (type) {
    case "TYPE_UINT64":
      return BigInt(reader.uint64());
    case "TYPE_INT64":
      return BigInt(reader.int64());
    case "TYPE_SINT64":
      return BigInt(reader.sint64());
    case "TYPE_FIXED64":
      return BigInt(reader.fixed64());
    default:
      return BigInt(reader.sfixed64());
  }
}
