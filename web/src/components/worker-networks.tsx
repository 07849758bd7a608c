// The networks of one worker: name, driver, scope and subnets, and the containers attached to them.
import type { NetworkSummary } from '../api/worker-types';
import { Badge, Cell, Table } from './ui';
import { NameList, ResourceSection } from './worker-ui';

function Subnets({ network }: { network: NetworkSummary }) {
  const subnets = network.ipam.config.flatMap((config) =>
    config.subnet === undefined ? [] : [config.subnet],
  );
  if (subnets.length === 0) return <span className="text-slate-600 dark:text-slate-400">—</span>;
  return <span className="font-mono text-xs">{subnets.join(', ')}</span>;
}

export function WorkerNetworks({
  networks,
  shown,
  usersByNetwork,
  filter,
}: {
  networks: readonly NetworkSummary[];
  /** Those the filter lets through. */
  shown: readonly NetworkSummary[];
  usersByNetwork: ReadonlyMap<string, string[]>;
  filter: string;
}) {
  return (
    <ResourceSection
      title="Networks"
      total={networks.length}
      shown={shown.length}
      filter={filter}
      empty={{
        title: 'No networks on this worker.',
        hint: (
          <>
            Create one with <code>docker network create</code> on the host — it appears here by itself.
          </>
        ),
      }}
    >
      <Table caption="Networks" columns={['Name', 'Driver', 'Scope', 'Subnet', 'Used by']}>
        {shown.map((network) => (
          <tr key={network.id}>
            <Cell className="min-w-32 font-medium wrap-anywhere">
              {network.name} {network.builtIn && <Badge>built-in</Badge>}{' '}
              {network.internal && <Badge tone="amber">internal</Badge>}
            </Cell>
            <Cell>{network.driver}</Cell>
            <Cell>{network.scope}</Cell>
            <Cell>
              <Subnets network={network} />
            </Cell>
            <Cell className="min-w-40">
              <NameList names={usersByNetwork.get(network.name)} />
            </Cell>
          </tr>
        ))}
      </Table>
    </ResourceSection>
  );
}
