/**
 * Whether inotify on a directory can be trusted to report every change: on a local filesystem
 * every change goes through this kernel, so it does; on a network or FUSE filesystem changes made
 * elsewhere are never reported, and only polling sees them.
 */
import { statfs } from 'node:fs/promises';

/** statfs(2) f_type of filesystems whose changes all pass through the local kernel. */
const LOCAL_FS_TYPES = new Set<number>([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0x794c7630, // overlayfs
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
  0xca451a4e, // bcachefs
  0x52654973, // reiserfs
  0x3153464a, // jfs
  0x3434, // nilfs2
  0x4d44, // vfat, msdos
  0x2011bab0, // exfat
  0x7366746e, // ntfs3
  0x482b, // hfsplus
  0x73717368, // squashfs
  0xe0f5e1e2, // erofs
]);

/** True when the filesystem holding `path` is known to be local; false when not, or unknown. */
export async function isLocalFilesystem(path: string): Promise<boolean> {
  try {
    return LOCAL_FS_TYPES.has((await statfs(path)).type);
  } catch {
    return false;
  }
}
