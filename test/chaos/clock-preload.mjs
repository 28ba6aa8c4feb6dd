/**
 * Clock jumps for ONE process, without touching the host's clock (which a test cannot change,
 * and which would disturb every other process, the simulator included).
 *
 * How: the chaos runner starts the bridge with NODE_OPTIONS="--import=<this file>" and
 * DLB_CHAOS_CLOCK_FILE=<path>. Before any bridge module loads, this module replaces the global
 * `Date` with a Proxy whose `Date.now()`, `new Date()` and `Date()` read the real time plus an
 * offset in ms, which it re-reads from that file every 20 ms (the runner writes "600000" for
 * ten minutes ahead, "-240000" for four minutes back, "0" to return). Everything else about
 * Date is untouched: `new Date(x)`, Date.UTC, Date.parse, instanceof, the prototype.
 *
 * This is exactly what a wall-clock jump (NTP step, a VM resumed, a wrong RTC) does to a Node
 * process: Date moves, while the monotonic clock behind setTimeout/setInterval,
 * performance.now() and process.hrtime() keeps running steadily. The bridge's Date header,
 * its walk windows (now - delay), its pacing and checkpoint timestamps all follow the jump; its
 * sleeps do not. The simulator (in the runner's process) keeps the real time, so a jump of more
 * than 5 minutes makes it answer 401 / 40105, as Duo does.
 */
import { readFileSync } from 'node:fs';

const file = process.env.DLB_CHAOS_CLOCK_FILE;
if (file) {
  let offset = 0;
  const read = () => {
    try {
      const v = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(v)) offset = v;
    } catch {
      // not written yet: keep the last offset
    }
  };
  read();
  setInterval(read, 20).unref();
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  const skewedNow = () => realNow() + offset;
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length ? args : [skewedNow()], newTarget);
    },
    apply() {
      return new RealDate(skewedNow()).toString();
    },
    get(target, prop, receiver) {
      if (prop === 'now') return skewedNow;
      return Reflect.get(target, prop, receiver);
    },
  });
}
