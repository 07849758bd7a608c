// The closed code sets of the API: error codes, preflight finding codes and the reasons a worker's command failed.
// Callers branch on these codes and on structured details, never on message text.

/** Every failure the product reports falls into one of these codes (gRPC status semantics). */
export const ERROR_CODES = [
  'invalid_argument',
  'not_found',
  'conflict',
  'failed_precondition',
  'permission_denied',
  'unauthenticated',
  'unavailable',
  'deadline_exceeded',
  'canceled',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Why a failure happened, finer than its code, for the failures a caller acts on (a worker's command result carries
 * it to the master):
 * - `peer_unreachable` — the data channel to the other side (a worker or the master's relay) could not be opened,
 *   so another route may work;
 * - `not_leader` — this master is a standby; `details.leader` names the leader's gRPC address when one is known;
 * - `fenced` — the write or command came from a master that no longer leads (a newer epoch exists): refused.
 */
export const ERROR_REASONS = ['peer_unreachable', 'not_leader', 'fenced'] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];

/** What preflight and the planner can say about a migration; `FindingDetails` lists the structured details some carry. */
export const FINDING_CODES = [
  'already_present',
  'architecture_mismatch',
  'bind_mount_mapped',
  'bind_mount_skipped',
  'bind_mount_unmapped',
  'container_details_missing',
  'container_namespace',
  'container_running_source',
  'disk_space',
  'host_devices',
  'image_digest_reference',
  'incremental_update',
  'leftover_in_use',
  'leftover_reused',
  'links_dropped',
  'name_conflict',
  'nothing_to_move',
  'os_mismatch',
  'port_in_use',
  'runtime_required',
  'same_worker',
  'settings_dropped',
  'stop_signal_ignored',
  'subnet_clash',
  'volume_driver',
  'volume_host_path',
  'volume_network_share',
  'volume_size_unknown',
  'volume_tmpfs',
  'volumes_from_dropped',
  'worker_offline',
  'writable_layer_changes',
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

/** Findings that block until the request acknowledges their code, and only warn from then on. */
export const ACKNOWLEDGEABLE_FINDINGS = ['volume_host_path', 'writable_layer_changes'] as const;
export type AcknowledgeableFinding = (typeof ACKNOWLEDGEABLE_FINDINGS)[number];

/** A bind mount as a finding about it names it: the container's host path and where it is mounted inside. */
export interface BindMountDetails {
  host_path: string;
  container_path: string;
}
