import { describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { editDistance, nearNames, withNameSuggestions } from './near-names.js';
import { sampleContainer, sampleImage, sampleNetwork, sampleVolume } from './testing/sample-resources.js';
import type { Inventory } from './workers.js';

function inventory(parts: Partial<Inventory> = {}): Inventory {
  return { containers: [], images: [], volumes: [], networks: [], ...parts };
}

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and swapped neighbours as one edit each', () => {
    expect(editDistance('web', 'web')).toBe(0);
    expect(editDistance('web', 'wbe')).toBe(1);
    expect(editDistance('web', 'webs')).toBe(1);
    expect(editDistance('web', 'wb')).toBe(1);
    expect(editDistance('web', 'wax')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('nearNames', () => {
  it('offers typos, case slips and names that contain the one asked for, nearest first', () => {
    const names = ['web', 'shop-web-1', 'worker', 'postgres', 'Web', 'db'];
    expect(nearNames('wbe', names)).toEqual(['web', 'Web']);
    expect(nearNames('web', names)).toEqual(['Web', 'shop-web-1']);
    expect(nearNames('postgress', names)).toEqual(['postgres']);
  });

  it('offers none much further than the nearest', () => {
    expect(nearNames('cmdts-1', ['cmdst-1', 'cmsrc-1'])).toEqual(['cmdst-1']);
  });

  it('offers nothing far away, and at most the limit', () => {
    expect(nearNames('cache', ['web', 'db', 'postgres'])).toEqual([]);
    expect(nearNames('app', ['app1', 'app2', 'app3', 'app4'], 2)).toEqual(['app1', 'app2']);
  });
});

describe('withNameSuggestions', () => {
  const source = {
    name: 'hosta',
    inventory: inventory({
      containers: [sampleContainer({ name: 'web' }), sampleContainer({ id: 'c2', name: 'worker' })],
      volumes: [sampleVolume({ name: 'shop-data' })],
      networks: [sampleNetwork({ name: 'shop-net' })],
      images: [sampleImage({ tags: ['nginx:1.27'] })],
    }),
  };
  const others = [
    {
      id: 'w-b',
      name: 'hostb',
      inventory: inventory({
        containers: [sampleContainer({ name: 'cache' })],
        images: [sampleImage({ tags: ['redis:latest'] })],
      }),
    },
  ];
  const notFound = (type: string, ref: string) =>
    new AppError('not_found', `${type} "${ref}" not found on worker hosta`, {
      details: { type, ref, worker: 'hosta' },
    });

  it('says the near name on the source, in one line, with it in the details', () => {
    const error = withNameSuggestions(notFound('container', 'wbe'), source, others);
    expect(error.message).toBe('container "wbe" not found on worker hosta; did you mean "web"?');
    expect(error.details).toMatchObject({ suggestions: ['web'], found_on: [] });
    expect(error.code).toBe('not_found');
  });

  it('names the worker that holds exactly that name (an image by its normalised reference)', () => {
    const container = withNameSuggestions(notFound('container', 'cache'), source, others);
    expect(container.message).toBe(
      'container "cache" not found on worker hosta; a container "cache" is on worker hostb — migrate from that worker instead',
    );
    expect(container.details?.found_on).toEqual([{ worker_id: 'w-b', worker_name: 'hostb' }]);
    const image = withNameSuggestions(notFound('image', 'redis'), source, others);
    expect(image.message).toContain('an image "redis" is on worker hostb');
  });

  it('leaves other errors, and names with nothing near, as they are', () => {
    const unrelated = new AppError('invalid_argument', 'bad');
    expect(withNameSuggestions(unrelated, source, others)).toBe(unrelated);
    const far = notFound('volume', 'zzzzzz');
    expect(withNameSuggestions(far, source, others)).toBe(far);
  });
});
