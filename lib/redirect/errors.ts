// RedirectError: the one error type of lib/redirect. Callers (the CNI agent, tests) branch on
// `code`; a failed command carries its argv, exit status and stderr so the log line says why.

export type RedirectErrorCode =
  /** A command ran and exited non-zero (iptables-restore, nft, ip, ipset). */
  | 'COMMAND_FAILED'
  /** A command could not be started or timed out (missing binary, nsenter failure to exec). */
  | 'SPAWN_FAILED'
  /** A tool printed something we could not read (iptables-save, nft list, ip -j). */
  | 'UNPARSABLE_OUTPUT'
  /** Options out of range: a bad port, mark, address or interface name. */
  | 'INVALID_OPTIONS';

export interface RedirectErrorDetail {
  command?: readonly string[];
  status?: number | null;
  stderr?: string;
  cause?: unknown;
}

export class RedirectError extends Error {
  readonly code: RedirectErrorCode;
  /** argv of the failing command, nsenter prefix included. */
  readonly command: readonly string[] | undefined;
  readonly status: number | null | undefined;
  readonly stderr: string;

  constructor(code: RedirectErrorCode, message: string, detail: RedirectErrorDetail = {}) {
    const stderr = detail.stderr?.trim() ?? '';
    super(stderr ? `${message}: ${stderr}` : message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = 'RedirectError';
    this.code = code;
    this.command = detail.command;
    this.status = detail.status;
    this.stderr = stderr;
  }
}
