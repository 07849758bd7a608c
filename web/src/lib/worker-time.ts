// The current time, ticking, so that "12 s ago" keeps moving on a page nobody touches.
import { useEffect, useState } from 'react';

/** Re-renders the calling component every `intervalMs` and returns the time of the last tick. */
export function useNow(intervalMs = 5_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => {
      setNow(Date.now());
    }, intervalMs);
    return () => {
      clearInterval(timer);
    };
  }, [intervalMs]);
  return now;
}
