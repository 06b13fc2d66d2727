// Records the URL of every module resolved from now on in this process, through a module.register
// resolve hook (chained in front of tsx), for tests of what a command path loads.
import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";

const HOOK = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage(r.url);
  return r;
}`;

export interface ModuleTrace {
  /** Every URL resolved so far (waits until the hook thread's messages have all arrived). */
  urls(): Promise<string[]>;
}

export function traceModules(): ModuleTrace {
  const { port1, port2 } = new MessageChannel();
  const seen: string[] = [];
  port1.on("message", (url: string) => seen.push(url));
  port1.unref();
  register(`data:text/javascript,${encodeURIComponent(HOOK)}`, { data: { port: port2 }, transferList: [port2] });
  let n = 0;
  return {
    async urls() {
      // Messages arrive in order: once this import's own URL is seen, all earlier ones are.
      const sentinel = `data:text/javascript,export default ${++n};`;
      await import(sentinel);
      while (!seen.includes(sentinel)) await new Promise((r) => setTimeout(r, 5));
      return seen.filter((u) => !u.startsWith("data:"));
    },
  };
}
