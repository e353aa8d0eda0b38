// grpc-js always sends the target's host as the TLS server name (SNI), even when
// it is an IP address such as 127.0.0.1, and Node then prints DEP0123 ("Setting
// the TLS ServerName to an IP address is not permitted by RFC 6066") on the
// first TLS connection of every process. Halon's certificates carry IP SANs and
// every peer is also checked by its SPIFFE identity, so the server name is not
// what authenticates anyone: drop that one warning, and only that one, so that
// the CLI's stderr stays for real errors.
const emitWarning = process.emitWarning.bind(process);

process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const code =
    typeof rest[0] === "object" && rest[0] !== null ? (rest[0] as { code?: unknown }).code : rest[1];
  if (code === "DEP0123") return;
  // The overloads of emitWarning cannot be forwarded with their types intact.
  (emitWarning as (w: string | Error, ...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;
