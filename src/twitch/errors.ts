// Twitch's typed errors. Each carries a stable code; its HTTP status is in src/errors.ts's catalog.
import { PuppetHaError } from "../errors.js";

/** A query parameter that is unknown, repeated or has a value outside its strict grammar. */
export class BadParameterError extends PuppetHaError {
  readonly param: string;
  constructor(param: string, message: string) {
    super("E_TWITCH_PARAM", message);
    this.param = param;
  }
}

/** A run is already in flight: ours, or a live agent holding agent_catalog_run.lock. */
export class AlreadyRunningError extends PuppetHaError {
  readonly pid: number | undefined;
  constructor(pid?: number) {
    super("E_TWITCH_RUNNING", "Puppet already running");
    this.pid = pid;
  }
}

/** `puppet agent --disable` is in effect (agent_disabled.lock exists). */
export class AgentDisabledError extends PuppetHaError {
  readonly disabledMessage: string;
  constructor(disabledMessage: string) {
    super("E_TWITCH_DISABLED", `Puppet is disabled: ${disabledMessage || "(no reason given)"}`);
    this.disabledMessage = disabledMessage;
  }
}

/** No credentials at all, or none where the request needs them (401). */
export class AuthRequiredError extends PuppetHaError {
  constructor(message = "Authentication required") {
    super("E_TWITCH_AUTH_REQUIRED", message);
  }
}

/** The request came from a browser page of another site (403): browsers never trigger runs. */
export class CrossSiteError extends PuppetHaError {
  constructor(reason: string) {
    super("E_CROSS_SITE", `Forbidden: cross-site request (${reason})`);
  }
}

/** Credentials were presented but are wrong, revoked or not on the allowlist (403). */
export class ForbiddenError extends PuppetHaError {
  constructor(reason: string) {
    super("E_TWITCH_FORBIDDEN", `Forbidden: ${reason}`);
  }
}

/** The caller exceeded rateLimit.max triggers per rateLimit.per (429 + Retry-After). */
export class RateLimitedError extends PuppetHaError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super("E_TWITCH_RATE_LIMIT", "Too many triggers; try again later");
    this.retryAfterMs = retryAfterMs;
  }
}

/** The agent ran but did not succeed (exit 1/4/6, killed, timed out, not startable). */
export class RunFailedError extends PuppetHaError {
  readonly exitCode: number | undefined;
  constructor(message: string, exitCode?: number, options?: { cause?: unknown }) {
    super("E_TWITCH_RUN_FAILED", message, options);
    this.exitCode = exitCode;
  }
}

/** `puppet config print` failed at start, so the lock and summary paths are unknown. */
export class PuppetSettingsError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_TWITCH_SETTINGS", message, options);
  }
}

/** A fleet target could not be reached or answered unexpectedly. */
export class FleetTargetError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_FLEET_TARGET", message, options);
  }
}

/** `fleet twitch` finished but some nodes failed (exit code 1 after the report). */
export class FleetFailedError extends PuppetHaError {
  readonly failed: number;
  constructor(failed: number, total: number) {
    super("E_FLEET_FAILED", `${failed} of ${total} node(s) failed`);
    this.failed = failed;
  }
}
