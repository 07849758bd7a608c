// CPU, memory and free disk of this host, for heartbeats. CPU is measured between two calls.
import { statfs } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';
import type { WorkerSystem } from '../core/workers.js';

interface CpuSample {
  idle: number;
  total: number;
}

function sampleCpu(): CpuSample {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const { user, nice, sys, irq } = cpu.times;
    idle += cpu.times.idle;
    total += user + nice + sys + irq + cpu.times.idle;
  }
  return { idle, total };
}

export class SystemFigures {
  private previous = sampleCpu();

  /** @param dockerRootDir the engine's data root; its free space is reported when this host can see it. */
  constructor(private readonly dockerRootDir: string | undefined) {}

  async read(): Promise<WorkerSystem> {
    const sample = sampleCpu();
    const total = sample.total - this.previous.total;
    const idle = sample.idle - this.previous.idle;
    this.previous = sample;
    let dockerRootFreeBytes = 0;
    if (this.dockerRootDir) {
      try {
        const stats = await statfs(this.dockerRootDir);
        dockerRootFreeBytes = stats.bavail * stats.bsize;
      } catch {
        // The engine is remote (or its root is not visible here): free disk stays unknown (0).
      }
    }
    const memoryTotalBytes = totalmem();
    return {
      cpuPercent: total > 0 ? Math.round((1000 * (total - idle)) / total) / 10 : 0,
      cpus: cpus().length,
      memoryTotalBytes,
      memoryUsedBytes: memoryTotalBytes - freemem(),
      dockerRootFreeBytes,
    };
  }
}
