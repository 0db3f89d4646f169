// CNI protocol facts the plugin speaks (spec 1.0/1.1): the versions we accept, the well-known
// error codes, and the JSON the runtime reads from our stdout (VERSION answer, error result).

/** 0.1.0/0.2.0 results have another shape (ip4/ip6); chaining with prevResult starts at 0.3.0. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

/** Well-known error codes (spec section 5, "Error"). */
export const ErrorCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** Plugin-specific (100+): a bug in the plugin, not a problem with the request. */
  internal: 100,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A failure as the runtime sees it: code, short message, optional longer details. */
export interface CniFailure {
  code: ErrorCodeValue;
  msg: string;
  details?: string;
}

export function isSupportedVersion(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** The error result (stdout, with a non-zero exit). */
export function renderError(failure: CniFailure, cniVersion: string = LATEST_VERSION): string {
  const body: Record<string, unknown> = { cniVersion, code: failure.code, msg: failure.msg };
  if (failure.details) body.details = failure.details;
  return `${JSON.stringify(body)}\n`;
}

/** The VERSION answer: the version asked about when we know it, else the latest we speak. */
export function renderVersion(asked: string | undefined): string {
  const cniVersion = asked && isSupportedVersion(asked) ? asked : LATEST_VERSION;
  return `${JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS })}\n`;
}
