// In-process sync with proxy.cluster: the sync service's scheduled passes belong to the controller.
// A cron task that exists only while this proxy is the controller: created (and run once, to catch
// up) when it is elected, stopped when it steps down.
import type { CronFactory, Stoppable } from "../../sync/triggers.js";

/** Whether this proxy is the controller, and its changes (ProxyCluster.leadership). */
export interface Leadership {
  isController(): boolean;
  /** Calls back with the new value on every change; returns an unsubscribe function. */
  onChange(fn: (controller: boolean) => void): () => void;
}

export function controllerCron(base: CronFactory, lead: Leadership): CronFactory {
  return (expression, fn) => {
    let task: Stoppable | undefined;
    const follow = (controller: boolean, catchUp: boolean) => {
      if (controller && !task) {
        task = base(expression, fn);
        if (catchUp) fn(); // a new controller does not wait for the next tick
      } else if (!controller && task) {
        void task.stop();
        task = undefined;
      }
    };
    const off = lead.onChange((controller) => follow(controller, true));
    follow(lead.isController(), false);
    return {
      async stop() {
        off();
        const t = task;
        task = undefined;
        await t?.stop();
      },
    };
  };
}
