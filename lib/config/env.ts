// Reading settings from the environment the same way in every process: listen addresses as
// `host:port`, `[v6]:port` or a bare port, and booleans as `true`/`false`; problems are collected
// (with the variable's name) rather than thrown, so a process can print them all and exit.

export interface ListenAddress {
  host: string;
  port: number;
}

export function envAddress(v: string | undefined, def: ListenAddress, name: string, errors: string[]): ListenAddress {
  if (!v) return def;
  const i = v.lastIndexOf(':');
  const host = i > 0 ? v.slice(0, i).replace(/^\[|\]$/g, '') : def.host;
  const port = Number(i >= 0 ? v.slice(i + 1) : v);
  if (!Number.isInteger(port) || port < 0 || port > 65535) errors.push(`${name}: not a port or host:port: ${v}`);
  return { host, port };
}

export function envBool(v: string | undefined, def: boolean, name: string, errors: string[]): boolean {
  if (v === undefined || v === '') return def;
  if (v === 'true') return true;
  if (v === 'false') return false;
  errors.push(`${name}: must be true or false, got ${v}`);
  return def;
}
