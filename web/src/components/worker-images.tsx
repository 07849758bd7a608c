// The images of one worker: tags, size, layers when known, short id, and the containers that run them.
import type { ImageSummary } from '../api/worker-types';
import { formatBytes, formatDateTime, shortId } from '../lib/format';
import { Cell, Table } from './ui';
import { NameList, ResourceSection } from './worker-ui';

/** Unix seconds as local date and time; an out-of-range number must not break the page. */
function createdAt(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? '—' : formatDateTime(date.toISOString());
}

function Tags({ tags }: { tags: readonly string[] }) {
  if (tags.length === 0)
    return <span className="text-slate-600 dark:text-slate-400">untagged (dangling)</span>;
  return (
    <ul>
      {tags.map((tag) => (
        <li key={tag} className="font-mono text-xs break-all">
          {tag}
        </li>
      ))}
    </ul>
  );
}

export function WorkerImages({
  images,
  shown,
  usersByImageId,
  filter,
}: {
  images: readonly ImageSummary[];
  /** Those the filter lets through. */
  shown: readonly ImageSummary[];
  usersByImageId: ReadonlyMap<string, string[]>;
  filter: string;
}) {
  return (
    <ResourceSection
      title="Images"
      total={images.length}
      shown={shown.length}
      filter={filter}
      empty={{
        title: 'No images on this worker.',
        hint: (
          <>
            Pull one with <code>docker pull</code> on the host — it appears here by itself.
          </>
        ),
      }}
    >
      <Table caption="Images" columns={['Tags', 'ID', 'Size', 'Layers', 'Created', 'Used by']}>
        {shown.map((image) => (
          <tr key={image.id}>
            <Cell>
              <Tags tags={image.tags} />
            </Cell>
            <Cell className="font-mono text-xs">{shortId(image.id)}</Cell>
            <Cell className="whitespace-nowrap">{formatBytes(image.size)}</Cell>
            <Cell>{image.layers === undefined ? '—' : image.layers.length}</Cell>
            <Cell className="whitespace-nowrap">{createdAt(image.created)}</Cell>
            <Cell className="min-w-40">
              <NameList names={usersByImageId.get(image.id)} />
            </Cell>
          </tr>
        ))}
      </Table>
    </ResourceSection>
  );
}
