// Where the sync agent learns `{epoch, active}`: the proxy's admin API (`GET /api/ca` with the
// admin bearer token; several proxies: the highest epoch they answer), or, inside the proxy, the
// arbiter object itself.
import { readTokenFile } from "../token.js";
import { ArbiterError } from "./errors.js";

export interface ArbiterState {
  epoch: number;
  active: string;
}

export interface ArbiterSource {
  current(): Promise<ArbiterState>;
}

/** Check an answer's shape; the proxy may add more keys. */
export function parseArbiterState(body: unknown): ArbiterState {
  const b = body as { epoch?: unknown; active?: unknown } | null;
  if (!b || typeof b !== "object" || !Number.isSafeInteger(b.epoch) || (b.epoch as number) < 0 || typeof b.active !== "string" || b.active === "") {
    throw new ArbiterError(`the arbiter answered without a valid {epoch, active}: ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return { epoch: b.epoch as number, active: b.active };
}

/**
 * The proxy's admin API. The token file is read on each call, so a rotated token is picked up.
 * Several proxies (`url` a list): every one is asked, and the highest epoch among the answers
 * wins (a proxy whose view is behind, or one that is down, never lowers it); it fails only when
 * none answers.
 */
export function httpArbiter(opts: { url: string | readonly string[]; tokenFile?: string; timeoutMs?: number }): ArbiterSource {
  const urls = typeof opts.url === "string" ? [opts.url] : [...opts.url];
  return {
    async current() {
      const headers: Record<string, string> = { accept: "application/json" };
      if (opts.tokenFile) {
        let token: string;
        try {
          token = readTokenFile(opts.tokenFile, "arbiter token file");
        } catch (cause) {
          throw new ArbiterError((cause as Error).message, { cause });
        }
        headers.authorization = `Bearer ${token}`;
      }
      if (urls.length === 1) return askProxy(urls[0] as string, headers, opts.timeoutMs);
      const answers = await Promise.allSettled(urls.map((url) => askProxy(url, headers, opts.timeoutMs)));
      return highestEpoch(answers);
    },
  };
}

/** The answer with the highest epoch (the first listed on a tie); an ArbiterError naming every failure when none answered. */
export function highestEpoch(answers: readonly PromiseSettledResult<ArbiterState>[]): ArbiterState {
  let best: ArbiterState | undefined;
  for (const a of answers) if (a.status === "fulfilled" && (!best || a.value.epoch > best.epoch)) best = a.value;
  if (best) return best;
  const why = answers.map((a) => (a.status === "rejected" ? (a.reason as Error).message : "")).filter(Boolean).join("; ");
  throw new ArbiterError(`no arbiter answered: ${why}`);
}

async function askProxy(url: string, headers: Record<string, string>, timeoutMs = 5000): Promise<ArbiterState> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/ca`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw new ArbiterError(`cannot reach the arbiter at ${url}/api/ca: ${(cause as Error).message}`, { cause });
  }
  if (!res.ok) throw new ArbiterError(`the arbiter at ${url}/api/ca answered HTTP ${res.status}`);
  let body: unknown;
  try {
    body = await res.json();
  } catch (cause) {
    throw new ArbiterError(`the arbiter at ${url}/api/ca answered something that is not JSON`, { cause });
  }
  return parseArbiterState(body);
}

/** An arbiter held in memory (inside the proxy, and in tests). */
export function staticArbiter(state: ArbiterState): ArbiterSource & { set(s: ArbiterState): void } {
  let s = { ...state };
  return {
    current: () => Promise.resolve({ ...s }),
    set(next) {
      s = { ...next };
    },
  };
}
