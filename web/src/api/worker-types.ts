// The master's JSON for workers, their Docker resources, the audit log and enrollment as the UI reads it: the API
// contract's types (src/contract), re-exported so pages import them from one place.
export type {
  AuditEntryJson,
  ContainerAnswerJson,
  ContainerDetailsJson,
  ContainerState,
  ContainerSummary,
  CountsJson,
  EnrollmentJson,
  ImageJson as ImageSummary,
  IpamConfig,
  Marked,
  MigratedToJson,
  NetworkSummary,
  PairingCodeJson,
  PortBinding,
  SystemJson,
  VolumeSummary,
  WorkerJson,
  WorkerResourcesJson,
  WorkerStatus,
} from '../../../src/contract/index.js';
