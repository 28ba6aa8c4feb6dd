/**
 * The two paging rules Duo's log endpoints use. Pure.
 *
 * v2 cursor logs (authentication, telephony, activity): the window [mintime, maxtime] is
 * frozen for the walk and Duo's `next_offset` is sent back until the walk ends. Whether Duo
 * returns a `next_offset` on the last page is undocumented, so the walk ends on any of: an
 * empty page, a null/absent `next_offset`, a page shorter than the limit, or a `next_offset`
 * that did not move. Either way the next poll restarts from the checkpoint position
 * (inclusive, deduplicated by id), so the last page is never emitted twice.
 *
 * v1 list logs (administrator, telephony v1, offline enrollment): at most `limit` earliest
 * rows from `mintime` (seconds, inclusive). Next `mintime` = the largest timestamp seen
 * (rows at it are re-sent by Duo and deduplicated); a full page inside one second forces +1 s,
 * because asking again would return the same page forever.
 */
import type { Page, Step, Walk } from './types.js';

export function nextV2(walk: Walk, page: Page, limit: number): Step {
  if (page.items.length === 0 || page.nextOffset === null) return { done: true };
  if (page.items.length < limit) return { done: true };
  if (page.nextOffset === walk.nextOffset) {
    return { done: true, warning: 'Duo returned the same next_offset twice; ending this walk and resuming from the checkpoint next poll.' };
  }
  return { walk: { ...walk, nextOffset: page.nextOffset } };
}

/** `times` are the page's item times in seconds, in Duo's order. */
export function nextV1(walk: Walk, times: readonly number[], limit: number): Step {
  if (times.length < limit) return { done: true };
  let min = Infinity;
  let max = -Infinity;
  for (const t of times) {
    if (t < min) min = t;
    if (t > max) max = t;
  }
  if (max > walk.maxtime) return { done: true };
  if (min === max) {
    return {
      walk: { ...walk, mintime: max + 1 },
      warning: `A full page of ${limit} rows shares one second (${max}); Duo cannot page inside a second, so any further rows of that second cannot be fetched.`,
    };
  }
  return { walk: { ...walk, mintime: Math.max(max, walk.mintime + (max > walk.mintime ? 0 : 1)) } };
}
