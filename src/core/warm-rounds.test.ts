import { describe, expect, it } from 'vitest';

import { afterRound, projectFinalRoundMs, type PrecopyRound, type RoundPolicy } from './warm-rounds.js';

const MiB = 1024 * 1024;
const policy: RoundPolicy = { budgetMs: 2000, maxRounds: 8, convergedBytes: 4 * MiB };

/** A round that read and sent `mib` MiB at 200 MiB/s after a walk of `walkMs`. */
function round(mib: number, walkMs = 100, hotMib = 0): PrecopyRound {
  const bytes = mib * MiB;
  return {
    bytesSent: bytes,
    bytesRead: bytes,
    walkMs,
    durationMs: walkMs + (mib / 200) * 1000,
    hotBytes: hotMib * MiB,
  };
}

describe('afterRound', () => {
  it('goes on while what is left would take longer than the budget and rounds shrink', () => {
    const verdict = afterRound([round(1024), round(600)], policy);
    expect(verdict.stop).toBe(false);
    expect(verdict.projectedMs).toBeCloseTo(100 + 3000, 0);
  });

  it('stops when the projected final round (walk, hot files re-read, delta) fits the budget', () => {
    const verdict = afterRound([round(1024), round(100, 200, 150)], policy);
    // 200 ms walk + 150 MiB of hot files at 200 MiB/s + 100 MiB at 200 MiB/s = 1450 ms
    expect(verdict).toMatchObject({ stop: true, reason: 'budget' });
    expect(verdict.projectedMs).toBeCloseTo(1450, 0);
    expect(verdict.stop && verdict.explanation).toBe(
      'pre-copy round 2 sent 100 MiB in 0.7 s; the final round should take about 1.4 s, within the 2.0 s budget',
    );
  });

  it('stops when a round sent next to nothing, whatever the projection', () => {
    const verdict = afterRound([round(1024), round(2, 5000)], policy);
    expect(verdict).toMatchObject({ stop: true, reason: 'converged' });
  });

  it('stops when a round sent no less than the one before: the writer dirties data as fast as it is copied', () => {
    const verdict = afterRound([round(1024), round(500), round(520)], policy);
    expect(verdict).toMatchObject({ stop: true, reason: 'grew' });
    expect(verdict.stop && verdict.explanation).toContain('no less than round 2 (500 MiB)');
  });

  it('stops after the last round allowed, saying the final round will exceed the budget', () => {
    const rounds = [round(1024), round(900), round(800)];
    const verdict = afterRound(rounds, { ...policy, maxRounds: 3 });
    expect(verdict).toMatchObject({ stop: true, reason: 'max_rounds' });
    expect(verdict.stop && verdict.explanation).toContain('that was the last of 3 rounds');
    expect(verdict.stop && verdict.explanation).toContain('over the 2.0 s budget');
  });

  it('says "the last of 1 round" when one round is all that is allowed', () => {
    const verdict = afterRound([round(1024)], { ...policy, maxRounds: 1 });
    expect(verdict.stop && verdict.explanation).toContain('that was the last of 1 round;');
  });

  it('projects from the round that measured the data path, not from a small one dominated by its walk', () => {
    // Round 2 moved 8 MiB in 2 s (mostly walking): 4 MiB/s would project 8 MiB as 2 s, the real rate 40 ms.
    const rounds = [
      round(1024),
      { bytesSent: 8 * MiB, bytesRead: 8 * MiB, walkMs: 1900, durationMs: 2000, hotBytes: 0 },
    ];
    expect(projectFinalRoundMs(rounds)).toBeCloseTo(1900 + 40, 0);
  });

  it('without a round large enough to measure a rate, projects the last round’s own time', () => {
    const small = { bytesSent: 100_000, bytesRead: 100_000, walkMs: 50, durationMs: 80, hotBytes: 0 };
    expect(projectFinalRoundMs([small])).toBe(80);
  });
});
