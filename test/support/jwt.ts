/** Tokens for tests, made with node:crypto alone (independent of the io.jwt.* builtins under test). */
import { createHmac } from 'node:crypto';

export const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** An HS256 JWT (RFC 7519) signed with `secret`. */
export function hs256(claims: Record<string, unknown>, secret = 'secret', header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}
