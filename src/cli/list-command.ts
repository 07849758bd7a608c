// `docker-migrate list containers|images|volumes|networks`: the local engine's resources as a table or JSON.
import { Command, Option } from 'commander';
import { AppError } from '../core/errors.js';
import type {
  ContainerSummary,
  ImageSummary,
  LabelFilter,
  NetworkSummary,
  PortBinding,
  VolumeSummary,
} from '../core/docker-resources.js';
import type { DockerEngine, ListOptions as EngineListOptions } from '../core/ports.js';
import { connectEngine, createContext, type CommandContext } from './context.js';
import { humanAge, humanBytes, shortId } from './format.js';
import { renderTable, type Column } from './table.js';

interface ListOptions {
  json?: boolean;
  label?: string[];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--label key` or `--label key=value`, repeatable: objects must carry all of them. */
function labelFilter(labels: string[] | undefined): LabelFilter | undefined {
  if (!labels || labels.length === 0) return undefined;
  const filter: LabelFilter = {};
  for (const label of labels) {
    const [key, ...rest] = label.split('=');
    if (!key) throw new AppError('invalid_argument', `invalid --label "${label}": use key or key=value`);
    filter[key] = rest.length > 0 ? rest.join('=') : true;
  }
  return filter;
}

function formatPorts(ports: PortBinding[]): string {
  const text = ports
    .filter((port) => port.publicPort !== undefined)
    .map(
      (port) => `${port.hostIp ?? '0.0.0.0'}:${port.publicPort ?? ''}->${port.privatePort}/${port.protocol}`,
    );
  return [...new Set(text)].join(', ');
}

function print<Row>(
  context: CommandContext,
  options: ListOptions,
  rows: Row[],
  columns: Column<Row>[],
  empty: string,
): void {
  if (options.json) {
    context.out.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else if (rows.length === 0) {
    context.out.write(`${empty}\n`);
  } else {
    context.out.write(renderTable(columns, rows));
  }
}

const containerColumns: Column<ContainerSummary>[] = [
  { header: 'NAME', value: (c) => c.name },
  { header: 'CONTAINER ID', value: (c) => shortId(c.id) },
  { header: 'IMAGE', value: (c) => c.image },
  { header: 'STATE', value: (c) => c.state },
  { header: 'STATUS', value: (c) => c.status },
  { header: 'PORTS', value: (c) => formatPorts(c.ports) },
];

interface ImageRow {
  repository: string;
  tag: string;
  image: ImageSummary;
}

const imageColumns: Column<ImageRow>[] = [
  { header: 'REPOSITORY', value: (r) => r.repository },
  { header: 'TAG', value: (r) => r.tag },
  { header: 'IMAGE ID', value: (r) => shortId(r.image.id) },
  { header: 'CREATED', value: (r) => humanAge(r.image.created) },
  { header: 'SIZE', value: (r) => humanBytes(r.image.size) },
];

/** One row per tag, like `docker images`; an untagged image shows as <none>. */
function imageRows(images: ImageSummary[]): ImageRow[] {
  return images.flatMap((image) => {
    if (image.tags.length === 0) return [{ repository: '<none>', tag: '<none>', image }];
    return image.tags.map((ref) => {
      const colon = ref.lastIndexOf(':');
      return colon > ref.lastIndexOf('/')
        ? { repository: ref.slice(0, colon), tag: ref.slice(colon + 1), image }
        : { repository: ref, tag: '<none>', image };
    });
  });
}

function volumeColumns(sizes: boolean): Column<VolumeSummary>[] {
  const columns: Column<VolumeSummary>[] = [
    { header: 'NAME', value: (v) => v.name },
    { header: 'DRIVER', value: (v) => v.driver },
  ];
  if (sizes) {
    columns.push(
      { header: 'SIZE', value: (v) => humanBytes(v.size) },
      {
        header: 'USED BY',
        value: (v) => (v.refCount === null || v.refCount === undefined ? '-' : String(v.refCount)),
      },
    );
  }
  columns.push({ header: 'LABELS', value: (v) => Object.keys(v.labels).length.toString() });
  return columns;
}

const networkColumns: Column<NetworkSummary>[] = [
  { header: 'NAME', value: (n) => n.name },
  { header: 'NETWORK ID', value: (n) => shortId(n.id) },
  { header: 'DRIVER', value: (n) => n.driver },
  { header: 'SCOPE', value: (n) => n.scope },
  {
    header: 'SUBNET',
    value: (n) =>
      n.ipam.config
        .map((c) => c.subnet ?? '')
        .filter(Boolean)
        .join(', '),
  },
  { header: 'FLAGS', value: (n) => networkFlags(n) },
];

function networkFlags(network: NetworkSummary): string {
  const flags = [
    network.builtIn ? 'built-in' : '',
    network.internal ? 'internal' : '',
    network.attachable ? 'attachable' : '',
    network.ipv6 ? 'ipv6' : '',
  ];
  return flags.filter(Boolean).join(',');
}

function byName<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => key(a).localeCompare(key(b));
}

function jsonOption(): Option {
  return new Option('--json', 'print JSON for machines instead of a table');
}

function labelOption(): Option {
  return new Option('--label <key[=value]>', 'only objects with this label (repeatable)').argParser(collect);
}

/** What every subcommand starts from: its context, the connected engine, and the --label filter to list with. */
async function openEngine(
  command: Command,
  out: NodeJS.WritableStream,
  options: ListOptions,
): Promise<{ context: CommandContext; engine: DockerEngine; filter: EngineListOptions }> {
  const context = createContext(command, out);
  const engine = await connectEngine(context);
  const labels = labelFilter(options.label);
  return { context, engine, filter: labels ? { labels } : {} };
}

/** Builds the `list` command; `out` receives the command's output (stdout in the binary). */
export function listCommand(out: NodeJS.WritableStream): Command {
  const list = new Command('list')
    .alias('ls')
    .description('list the resources of the Docker engine named by DOCKER_HOST (or --docker-host)');

  list
    .command('containers')
    .aliases(['c', 'container'])
    .description('list containers (running ones unless --all)')
    .option('-a, --all', 'include stopped and created containers')
    .addOption(labelOption())
    .addOption(jsonOption())
    .action(async (options: ListOptions & { all?: boolean }, command: Command) => {
      const { context, engine, filter } = await openEngine(command, out, options);
      const rows = await engine.listContainers({ all: options.all ?? false, ...filter });
      rows.sort(byName((c) => c.name));
      const empty = options.all ? 'no containers' : 'no running containers (use --all to see stopped ones)';
      print(context, options, rows, containerColumns, empty);
    });

  list
    .command('images')
    .aliases(['i', 'image'])
    .description('list images, one line per tag')
    .addOption(labelOption())
    .addOption(jsonOption())
    .action(async (options: ListOptions, command: Command) => {
      const { context, engine, filter } = await openEngine(command, out, options);
      const images = await engine.listImages(filter);
      images.sort(byName((image) => image.tags[0] ?? `~${image.id}`));
      if (options.json) print(context, options, images, [], '');
      else print(context, options, imageRows(images), imageColumns, 'no images');
    });

  list
    .command('volumes')
    .aliases(['v', 'volume'])
    .description('list volumes')
    .option('-s, --size', 'show the bytes each volume holds and how many containers use it (slower)')
    .addOption(labelOption())
    .addOption(jsonOption())
    .action(async (options: ListOptions & { size?: boolean }, command: Command) => {
      const { context, engine, filter } = await openEngine(command, out, options);
      const sizes = options.size ?? false;
      const rows = await engine.listVolumes({ sizes, ...filter });
      rows.sort(byName((v) => v.name));
      print(context, options, rows, volumeColumns(sizes), 'no volumes');
    });

  list
    .command('networks')
    .aliases(['n', 'network'])
    .description('list networks (built-in ones are marked and never migrated)')
    .addOption(labelOption())
    .addOption(jsonOption())
    .action(async (options: ListOptions, command: Command) => {
      const { context, engine, filter } = await openEngine(command, out, options);
      const rows = await engine.listNetworks(filter);
      rows.sort(byName((n) => n.name));
      print(context, options, rows, networkColumns, 'no networks');
    });

  return list;
}
