//! What the system says about a file that the rules need: its owner, its
//! links, its identity and kind; and opening without following a link.
//! Outside unix there are no owners or links to check, and these say so.

use std::fs::{self, OpenOptions};

/// The user's id.
#[cfg(unix)]
pub(super) fn user() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The file's owner.
#[cfg(unix)]
pub(super) fn owner(meta: &fs::Metadata) -> u32 {
    std::os::unix::fs::MetadataExt::uid(meta)
}

#[cfg(not(unix))]
pub(super) fn owner(_meta: &fs::Metadata) -> u32 {
    0
}

/// Whether the file is the user's.
#[cfg(unix)]
pub(super) fn owned_by_user(meta: &fs::Metadata) -> bool {
    owner(meta) == user()
}

#[cfg(not(unix))]
pub(super) fn owned_by_user(_meta: &fs::Metadata) -> bool {
    true
}

/// Whether the file is the user's or root's.
pub(super) fn owned_by_user_or_root(meta: &fs::Metadata) -> bool {
    owned_by_user(meta) || owner(meta) == 0
}

/// The file's number of hard links.
#[cfg(unix)]
pub(super) fn links(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
pub(super) fn links(_meta: &fs::Metadata) -> u64 {
    1
}

/// Whether both describe the same file (device and inode).
#[cfg(unix)]
pub(super) fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
pub(super) fn same_file(_a: &fs::Metadata, _b: &fs::Metadata) -> bool {
    true
}

/// Opens without following a link at the end of the path (`O_NOFOLLOW`).
#[cfg(unix)]
pub(super) fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
}

#[cfg(not(unix))]
pub(super) fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

/// What a file is, for messages: `folder`, `FIFO`, `socket`...; `None` for a regular file.
pub(super) fn kind(meta: &fs::Metadata) -> Option<&'static str> {
    if meta.is_file() {
        None
    } else if meta.is_dir() {
        Some("folder")
    } else {
        Some(special_kind(meta).unwrap_or("special file"))
    }
}

/// A FIFO, device or socket, named; `None` for anything else.
#[cfg(unix)]
pub(super) fn special_kind(meta: &fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        Some("FIFO")
    } else if kind.is_char_device() {
        Some("character device")
    } else if kind.is_block_device() {
        Some("block device")
    } else if kind.is_socket() {
        Some("socket")
    } else {
        None
    }
}

#[cfg(not(unix))]
pub(super) fn special_kind(_meta: &fs::Metadata) -> Option<&'static str> {
    None
}
