// Who is calling: the bearer token of a gRPC call (`authorization: Bearer …`) proven by a
// TokenReview to be a Kubernetes service account. Shared by the CA and the xDS server, so both
// authenticate callers the same way; what a caller may then do is decided elsewhere (authorize.ts).
import type { Metadata } from '@grpc/grpc-js';
import { callerFromUsername, type Caller } from './authorize.ts';

export interface TokenReviewResult {
  authenticated: boolean;
  username?: string;
  extra?: Record<string, readonly string[] | undefined>;
  error?: string;
}

export type AuthenticateResult = { ok: true; caller: Caller } | { ok: false; reason: 'no_token' | 'token_invalid' | 'not_a_service_account'; detail: string };

export function bearerToken(md: Metadata): string | undefined {
  const v = md.get('authorization')[0];
  const m = typeof v === 'string' ? /^Bearer\s+(.+)$/i.exec(v.trim()) : null;
  return m?.[1];
}

/** A TokenReview that throws (apiserver down) propagates: the caller is not refused for it. */
export async function authenticateCaller(md: Metadata, reviewToken: (token: string) => Promise<TokenReviewResult>): Promise<AuthenticateResult> {
  const token = bearerToken(md);
  if (!token) return { ok: false, reason: 'no_token', detail: 'no bearer token in the authorization metadata' };
  const review = await reviewToken(token);
  if (!review.authenticated || !review.username) return { ok: false, reason: 'token_invalid', detail: `token not authenticated: ${review.error ?? 'no user'}` };
  const caller = callerFromUsername(review.username, review.extra);
  if (!caller) return { ok: false, reason: 'not_a_service_account', detail: `${review.username} is not a service account` };
  return { ok: true, caller };
}
