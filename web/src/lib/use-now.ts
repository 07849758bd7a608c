// The current time, ticking, so that "12 s ago" and elapsed times keep moving on a page nobody touches.
import { useEffect, useState } from 'react';

/**
 * Re-renders the calling component every `intervalMs` while `active` and returns the time of the last tick; a
 * finished migration passes `active: false`, so nothing ticks for figures that no longer change.
 */
export function useNow(intervalMs = 5_000, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => {
      setNow(Date.now());
    }, intervalMs);
    return () => {
      clearInterval(timer);
    };
  }, [intervalMs, active]);
  return now;
}
