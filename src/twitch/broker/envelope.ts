// Signed fleet messages: `{v: 1, payload, cert, sig}` where sig is the sender's Puppet key's
// signature over the canonical JSON of payload, and cert is the sender's PEM certificate. Opening
// checks size, shape, the certificate (./trust.ts) and the signature, and names what failed.
import { createPrivateKey, sign, verify, type KeyObject } from "node:crypto";
import { canonicalJson } from "./canonical.js";
import type { PuppetTrust, TrustedCert } from "./trust.js";

export const ENVELOPE_VERSION = 1;

export interface Identity {
  certname: string;
  certPem: string;
  key: KeyObject;
}

export function identityFromPem(certname: string, certPem: string, keyPem: string): Identity {
  return { certname, certPem, key: createPrivateKey(keyPem) };
}

/** RSA and EC keys sign a SHA-256 digest; Ed25519 and Ed448 take the message itself. */
function algorithmFor(key: KeyObject): string | null {
  return key.asymmetricKeyType === "ed25519" || key.asymmetricKeyType === "ed448" ? null : "sha256";
}

/** The bytes to publish for a payload. */
export function seal(payload: Record<string, unknown>, id: Identity): Uint8Array {
  const body = canonicalJson(payload);
  const sig = sign(algorithmFor(id.key), Buffer.from(body), id.key).toString("base64");
  return Buffer.from(`{"v":${ENVELOPE_VERSION},"payload":${body},"cert":${JSON.stringify(id.certPem)},"sig":"${sig}"}`);
}

/** Why a message was dropped: stable reasons for the log and the tests. */
export type DropReason = "too-large" | "malformed" | "untrusted-cert" | "bad-signature";

export class DroppedMessage extends Error {
  readonly reason: DropReason;
  constructor(reason: DropReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface Opened {
  payload: Record<string, unknown>;
  signer: TrustedCert;
}

/** A message whose shape was checked, before any cryptography. */
export interface Envelope {
  payload: Record<string, unknown>;
  cert: string;
  sig: string;
}

/** Size, JSON and shape of a message, no cryptography (cheap); throws DroppedMessage. */
export function parseEnvelope(data: Uint8Array, maxBytes: number): Envelope {
  if (data.byteLength > maxBytes) throw new DroppedMessage("too-large", `message of ${data.byteLength} bytes (at most ${maxBytes})`);
  let env: unknown;
  try {
    env = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    throw new DroppedMessage("malformed", "not JSON");
  }
  if (!env || typeof env !== "object" || Array.isArray(env)) throw new DroppedMessage("malformed", "not a JSON object");
  const e = env as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) throw new DroppedMessage("malformed", `unknown envelope version ${JSON.stringify(e.v)?.slice(0, 20)}`);
  const payload = e.payload;
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw new DroppedMessage("malformed", "no payload object");
  if (typeof e.cert !== "string" || typeof e.sig !== "string") throw new DroppedMessage("malformed", "unsigned (no cert or sig)");
  return { payload: payload as Record<string, unknown>, cert: e.cert, sig: e.sig };
}

/** Who signed a parsed message: the certificate (./trust.ts) and the signature; throws DroppedMessage. */
export function verifyEnvelope(env: Envelope, trust: PuppetTrust): Opened {
  const verdict = trust.verify(env.cert);
  if (!verdict.ok) throw new DroppedMessage("untrusted-cert", verdict.reason);
  let body: string;
  try {
    body = canonicalJson(env.payload);
  } catch {
    throw new DroppedMessage("malformed", "payload has no canonical form");
  }
  const key = verdict.signer.publicKey;
  let good: boolean;
  try {
    good = verify(algorithmFor(key), Buffer.from(body), key, Buffer.from(env.sig, "base64"));
  } catch {
    good = false;
  }
  if (!good) throw new DroppedMessage("bad-signature", `signature does not match the certificate of ${verdict.signer.certname}`);
  return { payload: env.payload, signer: verdict.signer };
}

/** Parse and check a message; throws DroppedMessage. */
export function open(data: Uint8Array, trust: PuppetTrust, maxBytes: number): Opened {
  return verifyEnvelope(parseEnvelope(data, maxBytes), trust);
}
