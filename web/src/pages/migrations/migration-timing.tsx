// Where a migration's downtime went, phase by phase, and what each copy round of its volumes sent: the figures
// GET /api/migrations/:id gives, shown as a bar of the phases in proportion and a table of the rounds.
import type { DowntimePhasesJson, MigrationJson } from '../../api/migration-types';
import { Cell, Table } from '../../components/ui';
import { formatBytes, formatDuration } from '../../lib/format';

const PHASES: readonly { key: keyof DowntimePhasesJson; label: string; color: string }[] = [
  { key: 'stop_ms', label: 'Stop source', color: 'bg-amber-500' },
  { key: 'final_sync_ms', label: 'Final copy', color: 'bg-sky-600' },
  { key: 'apply_ms', label: 'Create', color: 'bg-violet-500' },
  { key: 'start_ms', label: 'Start', color: 'bg-emerald-600' },
  { key: 'ready_ms', label: 'Until ready', color: 'bg-teal-400' },
];

function DowntimeBar({ phases, totalMs }: { phases: DowntimePhasesJson; totalMs: number | null }) {
  const reached = PHASES.filter((phase) => phases[phase.key] !== null);
  const sum = reached.reduce((total, phase) => total + (phases[phase.key] ?? 0), 0);
  return (
    <div className="space-y-2">
      <p className="text-sm">
        Down for <span className="font-medium tabular-nums">{formatDuration(totalMs ?? sum)}</span>, from the
        request to stop the source until the target was ready:
      </p>
      <div
        className="flex h-3 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-800"
        aria-hidden="true"
      >
        {reached.map((phase) => (
          <div
            key={phase.key}
            className={phase.color}
            style={{ width: `${sum > 0 ? ((phases[phase.key] ?? 0) / sum) * 100 : 0}%` }}
          />
        ))}
      </div>
      <dl aria-label="Downtime by phase" className="grid grid-cols-2 gap-2 text-sm sm:grid-cols-5">
        {PHASES.map((phase) => (
          <div key={phase.key} className="flex items-start gap-2">
            <span className={`mt-1.5 size-2.5 shrink-0 rounded-sm ${phase.color}`} aria-hidden="true" />
            <div>
              <dt className="text-xs text-slate-500 dark:text-slate-400">{phase.label}</dt>
              <dd className="font-medium tabular-nums">
                {phases[phase.key] === null ? 'not reached' : formatDuration(phases[phase.key])}
              </dd>
            </div>
          </div>
        ))}
      </dl>
    </div>
  );
}

/** The card's content, or null when the migration neither stopped anything nor copied a volume yet. */
export function MigrationTiming({ migration }: { migration: MigrationJson }) {
  const { downtime_phases: phases, rounds } = migration;
  if (phases === null && rounds.length === 0) return null;
  return (
    <div className="space-y-4">
      {phases !== null && <DowntimeBar phases={phases} totalMs={migration.downtime_ms} />}
      {rounds.length > 0 && (
        <Table caption="Copy rounds" columns={['Round', 'Source', 'Sent', 'Took', 'Files read']}>
          {rounds.map((round) => (
            <tr key={round.round}>
              <Cell className="tabular-nums">{round.round}</Cell>
              <Cell>{round.final ? 'stopped (final)' : 'running'}</Cell>
              <Cell className="tabular-nums">{formatBytes(round.bytes)}</Cell>
              <Cell className="tabular-nums">{formatDuration(round.duration_ms)}</Cell>
              <Cell className="tabular-nums">{round.files.toLocaleString('en')}</Cell>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}

/** True when there is something for MigrationTiming to show. */
export function hasTiming(migration: MigrationJson): boolean {
  return migration.downtime_phases !== null || migration.rounds.length > 0;
}
