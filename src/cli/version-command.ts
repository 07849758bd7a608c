// `docker-migrate version`: this build's identity and, when reachable, the Docker engine's.
import { Command } from 'commander';
import type { EngineVersion } from '../core/docker-resources.js';
import { AppError } from '../core/errors.js';
import { buildInfo } from '../platform/build-info.js';
import { connectEngine, createContext } from './context.js';

export function versionCommand(out: NodeJS.WritableStream): Command {
  return new Command('version')
    .description('show the version of docker-migrate, its commit, Node.js and the Docker engine API')
    .option('--json', 'print JSON for machines')
    .action(async (options: { json?: boolean }, command: Command) => {
      const context = createContext(command, out);
      const build = buildInfo();
      const client = {
        version: build.version,
        commit: build.commit,
        built: build.date,
        node: process.version,
        platform: `${process.platform}/${process.arch}`,
      };
      let engine: { endpoint: string; version?: EngineVersion } = { endpoint: context.config.docker.host };
      let failure: AppError | undefined;
      try {
        const docker = await connectEngine(context);
        engine = { endpoint: docker.endpoint, version: await docker.version() };
      } catch (error) {
        failure = AppError.from(error);
      }
      if (options.json) {
        out.write(`${JSON.stringify({ client, docker: engine.version ? engine : null }, null, 2)}\n`);
      } else {
        out.write(
          [
            `docker-migrate ${client.version}`,
            `  commit:     ${client.commit}`,
            ...(client.built ? [`  built:      ${client.built}`] : []),
            `  node:       ${client.node}`,
            `  platform:   ${client.platform}`,
            '',
          ].join('\n'),
        );
        if (engine.version) {
          const v = engine.version;
          out.write(
            [
              `Docker engine at ${engine.endpoint}`,
              `  version:    ${v.version}`,
              `  api:        ${v.apiVersion}${v.minApiVersion ? ` (minimum ${v.minApiVersion})` : ''}`,
              `  os/arch:    ${v.os}/${v.arch}`,
              '',
            ].join('\n'),
          );
        }
      }
      // Like `docker version`: the client part is printed, then the engine failure makes the command fail.
      if (failure !== undefined) throw failure;
    });
}
