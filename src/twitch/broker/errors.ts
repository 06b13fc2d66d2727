// Typed errors of the fleet broker commands, each with a stable code (exit codes: src/main.ts).
import { PuppetHaError } from "../../errors.js";

/** `fleet status` found nodes silent, failed or never reported (exit 1 after the report). */
export class FleetStatusError extends PuppetHaError {
  constructor(flagged: number, total: number) {
    super("E_FLEET_STATUS", `${flagged} of ${total} node(s) silent, failed or never reported`);
  }
}

/** The broker cannot be reached or refused us (TLS, permissions). */
export class BrokerError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_BROKER", message, options);
  }
}
