// Step 2 of the wizard: what to migrate. Containers (with what each brings along), compose projects as collapsed
// groups of their containers, images, volumes and user-defined networks of the source worker, as checkboxes,
// narrowed by a filter box.
import { useId, type ReactNode } from 'react';

import type { ContainerSummary, WorkerResourcesJson } from '../../api/worker-types';
import { ErrorNotice, Loading } from '../../components/ui';
import { formatBytes, plural } from '../../lib/format';
import {
  broughtAlong,
  COMPOSE_PROJECT_LABEL,
  containerDependencies,
  filterResources,
  imageName,
  selectedCount,
  type BroughtAlongKey,
  type SelectionKind,
  type WizardAction,
  type WizardState,
} from './wizard-state';

type Dispatch = (action: WizardAction) => void;

function ResourceOption({
  label,
  detail,
  checked,
  onToggle,
  children,
}: {
  label: string;
  detail?: ReactNode;
  checked: boolean;
  onToggle: () => void;
  children?: ReactNode;
}) {
  const id = useId();
  return (
    <li className="rounded-md border border-slate-200 p-2 dark:border-slate-800">
      <div className="flex items-start gap-2">
        <input
          id={id}
          type="checkbox"
          checked={checked}
          onChange={onToggle}
          aria-describedby={detail === undefined ? undefined : `${id}-detail`}
          className="mt-0.5 h-4 w-4 shrink-0 accent-sky-600"
        />
        <div className="min-w-0 text-sm">
          <label htmlFor={id} className="cursor-pointer font-medium break-all">
            {label}
          </label>
          {detail !== undefined && (
            <p id={`${id}-detail`} className="text-xs text-slate-600 dark:text-slate-400">
              {detail}
            </p>
          )}
        </div>
      </div>
      {children}
    </li>
  );
}

function Section({
  legend,
  count,
  empty,
  children,
}: {
  legend: string;
  count: number;
  empty: string;
  children: ReactNode;
}) {
  return (
    <fieldset className="space-y-2">
      <legend className="text-sm font-semibold">
        {legend} <span className="font-normal text-slate-600 dark:text-slate-400">({count})</span>
      </legend>
      {count === 0 ? (
        <p className="text-sm text-slate-500 dark:text-slate-400">{empty}</p>
      ) : (
        <ul className="grid items-start gap-2 md:grid-cols-2">{children}</ul>
      )}
    </fieldset>
  );
}

/** "brought along with app-1" when something selected needs it; the planner adds it without a tick. */
function alongText(along: Map<BroughtAlongKey, string[]>, key: BroughtAlongKey): string | null {
  const by = along.get(key);
  return by === undefined ? null : `brought along with ${by.join(', ')}`;
}

function Dependencies({
  container,
  resources,
}: {
  container: ContainerSummary;
  resources: WorkerResourcesJson;
}) {
  const dependencies = containerDependencies(container, resources);
  const items = [
    `image ${dependencies.image.name}`,
    ...dependencies.volumes.map((volume) => `volume ${volume}`),
    ...dependencies.networks.map((network) => `network ${network.name}`),
  ];
  return (
    <div className="mt-2 ml-6 text-xs text-slate-700 dark:text-slate-300">
      <p className="font-medium">Brought along:</p>
      <ul aria-label={`Brought along with ${container.name}`} className="list-disc pl-4">
        {items.map((item) => (
          <li key={item}>{item}</li>
        ))}
      </ul>
    </div>
  );
}

function Lists({
  state,
  resources,
  dispatch,
}: {
  state: WizardState;
  resources: WorkerResourcesJson;
  dispatch: Dispatch;
}) {
  const shown = filterResources(resources, state.filter);
  const along = broughtAlong(state.selection, resources);
  const toggle = (kind: SelectionKind, id: string) => () => {
    dispatch({ type: 'toggle', kind, id });
  };
  const nothing = state.filter.trim() === '' ? 'None on this worker.' : 'Nothing matches the filter.';
  const containerOption = (container: ContainerSummary) => {
    const checked = state.selection.containers.includes(container.id);
    const by = alongText(along, `container:${container.id}`);
    return (
      <ResourceOption
        key={container.id}
        label={container.name}
        detail={`${container.state} · ${container.image}${by === null ? '' : ` · ${by}`}`}
        checked={checked}
        onToggle={toggle('containers', container.id)}
      >
        {checked && <Dependencies container={container} resources={resources} />}
      </ResourceOption>
    );
  };
  // Containers of a compose project are listed in its group, so that a host with many projects stays short.
  const inProject = (container: ContainerSummary) => (container.labels[COMPOSE_PROJECT_LABEL] ?? '') !== '';
  const standalone = shown.containers.filter((container) => !inProject(container));
  return (
    <>
      <Section legend="Containers" count={standalone.length} empty={nothing}>
        {standalone.map(containerOption)}
      </Section>
      <Section legend="Compose projects" count={shown.projects.length} empty={nothing}>
        {shown.projects.map((project) => {
          const members = shown.containers.filter((container) =>
            project.containers.some((member) => member.id === container.id),
          );
          const ticked =
            state.selection.composeProjects.includes(project.name) ||
            members.some((container) => state.selection.containers.includes(container.id));
          return (
            <li key={project.name} className="md:col-span-2">
              {/* Collapsed unless the filter is used or something of it is ticked. */}
              <details
                open={state.filter.trim() !== '' || ticked}
                className="rounded-md border border-slate-200 p-2 dark:border-slate-800"
              >
                <summary className="cursor-pointer text-sm font-medium">
                  {project.name}{' '}
                  <span className="font-normal text-slate-600 dark:text-slate-400">
                    ({plural(project.containers.length, 'container')})
                  </span>
                </summary>
                <ul className="mt-2 grid items-start gap-2 md:grid-cols-2">
                  <ResourceOption
                    label={project.name}
                    detail={`the whole project: ${plural(project.containers.length, 'container')}: ${project.containers.map((c) => c.name).join(', ')}, with their volumes and networks`}
                    checked={state.selection.composeProjects.includes(project.name)}
                    onToggle={toggle('composeProjects', project.name)}
                  />
                  {members.map(containerOption)}
                </ul>
              </details>
            </li>
          );
        })}
      </Section>
      <Section legend="Images" count={shown.images.length} empty={nothing}>
        {shown.images.map((image) => {
          const by = alongText(along, `image:${image.id}`);
          return (
            <ResourceOption
              key={image.id}
              label={imageName(image)}
              detail={`${formatBytes(image.size)}${image.tags.length === 0 ? ' · untagged' : ''}${by === null ? '' : ` · ${by}`}`}
              checked={state.selection.images.includes(image.id)}
              onToggle={toggle('images', image.id)}
            />
          );
        })}
      </Section>
      <Section legend="Volumes" count={shown.volumes.length} empty={nothing}>
        {shown.volumes.map((volume) => {
          const by = alongText(along, `volume:${volume.name}`);
          const size = volume.size === undefined || volume.size === null ? null : formatBytes(volume.size);
          return (
            <ResourceOption
              key={volume.name}
              label={volume.name}
              detail={[volume.driver, size, by].filter((part) => part !== null).join(' · ')}
              checked={state.selection.volumes.includes(volume.name)}
              onToggle={toggle('volumes', volume.name)}
            />
          );
        })}
      </Section>
      <Section legend="Networks" count={shown.networks.length} empty={nothing}>
        {shown.networks.map((network) => {
          const by = alongText(along, `network:${network.name}`);
          return (
            <ResourceOption
              key={network.id}
              label={network.name}
              detail={`${network.driver}${by === null ? '' : ` · ${by}`}`}
              checked={state.selection.networks.includes(network.id)}
              onToggle={toggle('networks', network.id)}
            />
          );
        })}
      </Section>
    </>
  );
}

export function WizardResourcesStep({
  state,
  resources,
  dispatch,
}: {
  state: WizardState;
  resources: { data: WorkerResourcesJson | undefined; error: unknown; isPending: boolean };
  dispatch: Dispatch;
}) {
  const filterId = useId();
  if (resources.data === undefined) {
    if (resources.error !== null && resources.error !== undefined) {
      return (
        <ErrorNotice error={resources.error} title="The source worker’s resources could not be loaded" />
      );
    }
    return <Loading what="the source worker’s resources" />;
  }
  return (
    <>
      <ErrorNotice error={resources.error} title="These lists may be out of date" />
      <p className="text-sm text-slate-600 dark:text-slate-400">
        Tick what to move. A container brings along its image, its named volumes and its user-defined
        networks; you do not need to tick those.
      </p>
      <div className="space-y-1">
        <label htmlFor={filterId} className="block text-sm font-medium">
          Filter resources
        </label>
        <input
          id={filterId}
          type="search"
          value={state.filter}
          placeholder="name, image, driver…"
          onChange={(event) => {
            dispatch({ type: 'setFilter', filter: event.target.value });
          }}
          className="w-full max-w-sm rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950"
        />
      </div>
      <p role="status" className="text-sm font-medium">
        {selectedCount(state.selection)} selected
      </p>
      <Lists state={state} resources={resources.data} dispatch={dispatch} />
    </>
  );
}
