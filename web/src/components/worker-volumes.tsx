// The volumes of one worker: name, driver, size when measured, labels, and the containers that mount them.
import type { VolumeSummary } from '../api/worker-types';
import { formatBytes } from '../lib/format';
import { Cell, Table } from './ui';
import { LabelList, NameList, ResourceSection } from './worker-ui';

export function WorkerVolumes({
  volumes,
  shown,
  usersByVolume,
  filter,
}: {
  volumes: readonly VolumeSummary[];
  /** Those the filter lets through. */
  shown: readonly VolumeSummary[];
  usersByVolume: ReadonlyMap<string, string[]>;
  filter: string;
}) {
  return (
    <ResourceSection
      title="Volumes"
      total={volumes.length}
      shown={shown.length}
      filter={filter}
      empty={{
        title: 'No volumes on this worker.',
        hint: (
          <>
            Create one with <code>docker volume create</code> on the host — it appears here by itself.
          </>
        ),
      }}
    >
      <Table caption="Volumes" columns={['Name', 'Driver', 'Size', 'Labels', 'Used by']}>
        {shown.map((volume) => (
          <tr key={volume.name}>
            <Cell className="min-w-32 font-medium wrap-anywhere">{volume.name}</Cell>
            <Cell>{volume.driver}</Cell>
            <Cell className="whitespace-nowrap">
              {typeof volume.size === 'number' ? formatBytes(volume.size) : 'not measured'}
            </Cell>
            <Cell className="min-w-40">
              <LabelList labels={volume.labels} />
            </Cell>
            <Cell className="min-w-40">
              <NameList names={usersByVolume.get(volume.name)} />
            </Cell>
          </tr>
        ))}
      </Table>
    </ResourceSection>
  );
}
