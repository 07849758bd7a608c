// Sums across every worker, at the top of the dashboard.
import type { WorkerJson } from '../api/worker-types';
import { formatBytes, plural } from '../lib/format';
import { workerTotals } from '../lib/worker-resources';

function Tile({ value, note }: { value: string; note: string }) {
  return (
    <li className="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900">
      <p className="text-lg font-semibold">{value}</p>
      <p className="text-xs text-slate-500 dark:text-slate-400">{note}</p>
    </li>
  );
}

export function WorkerTotals({ workers }: { workers: readonly WorkerJson[] }) {
  const totals = workerTotals(workers);
  return (
    <section aria-label="Totals">
      <ul className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
        <Tile value={plural(totals.workers, 'worker')} note={`${totals.online} online`} />
        <Tile value={plural(totals.containers, 'container')} note={`${totals.running} running`} />
        <Tile value={plural(totals.images, 'image')} note="on all workers" />
        <Tile value={plural(totals.volumes, 'volume')} note="on all workers" />
        <Tile value={plural(totals.networks, 'network')} note="on all workers" />
        <Tile value={formatBytes(totals.freeBytes)} note="free disk, all workers" />
      </ul>
    </section>
  );
}
