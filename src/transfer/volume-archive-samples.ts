// Metadata samples for tests of volume archives: POSIX ACLs as the bytes the kernel keeps in system.posix_acl_*
// (setfacl is not on every test machine), and a file capability through setcap.
import { execFileSync } from 'node:child_process';

/** ACL entry tags (linux/posix_acl.h). */
const TAGS = { userObj: 0x01, user: 0x02, groupObj: 0x04, group: 0x08, mask: 0x10, other: 0x20 } as const;
const UNDEFINED_ID = 0xffffffff;

export interface AclSample {
  owner: number;
  /** Named users and their permission bits (4 read, 2 write, 1 execute). */
  users: [number, number][];
  group: number;
  mask: number;
  other: number;
}

/** The value of system.posix_acl_access or _default for `acl`: version 2, then sorted {tag, perm, id} entries. */
export function aclXattr(acl: AclSample): Buffer {
  const entries: [number, number, number][] = [
    [TAGS.userObj, acl.owner, UNDEFINED_ID],
    ...acl.users.map(([id, perm]): [number, number, number] => [TAGS.user, perm, id]),
    [TAGS.groupObj, acl.group, UNDEFINED_ID],
    [TAGS.mask, acl.mask, UNDEFINED_ID],
    [TAGS.other, acl.other, UNDEFINED_ID],
  ];
  const value = Buffer.alloc(4 + 8 * entries.length);
  value.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], index) => {
    value.writeUInt16LE(tag, 4 + 8 * index);
    value.writeUInt16LE(perm, 6 + 8 * index);
    value.writeUInt32LE(id, 8 + 8 * index);
  });
  return value;
}

/** Gives `path` a file capability, as a package that installs ping does. */
export function setCapability(path: string, capability = 'cap_net_raw+ep'): void {
  execFileSync('/usr/sbin/setcap', [capability, path]);
}
