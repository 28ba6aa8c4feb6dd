/** One line of `npm run bench` output. */
export interface BenchRow {
  case: string;
  events: number;
  seconds: number;
  eventsPerSec: number;
  cpuUsPerEvent?: number;
  peakRssMb?: number;
  note?: string;
}
