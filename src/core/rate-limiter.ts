// Token buckets per key (e.g. per remote address), to slow down guessing of enrollment tokens and codes.

export interface RateLimiterOptions {
  /** Attempts allowed at once. */
  burst: number;
  /** Attempts regained per minute. */
  perMinute: number;
  /** Current time in ms; injected for tests. */
  now?: () => number;
  /** Buckets kept at most; the oldest are forgotten first. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly options: RateLimiterOptions) {}

  /** Takes one attempt for `key`; false when the key has none left. */
  take(key: string): boolean {
    const bucket = this.refill(key);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whether `key` has an attempt left, without using it (to charge only failures). */
  allows(key: string): boolean {
    return this.refill(key).tokens >= 1;
  }

  private refill(key: string): Bucket {
    const now = (this.options.now ?? Date.now)();
    const refill = this.options.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: this.options.burst, updatedAt: now };
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + (now - bucket.updatedAt) * refill);
    bucket.updatedAt = now;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > (this.options.maxKeys ?? 10_000)) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return bucket;
  }
}
