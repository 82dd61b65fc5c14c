//! `sendfile` for cached static files, underneath hyper.
//!
//! hyper writes a response as a list of buffers (`writev`): the head it formatted, then our body
//! `Bytes`. For a big cached file that means copying the whole file from our cache into the
//! socket for every request — the copy nginx avoids with `sendfile`. So the cache registers the
//! memory of each big cached file together with the open file it was read from
//! ([`register`]), and the client connection's writer ([`poll_write_vectored`]) recognises a
//! buffer lying inside such a region: the bytes before it are sent with `MSG_MORE` (so the head
//! and the body still leave in full packets), and the region itself with `sendfile` from the
//! file at the same offset.
//!
//! Soundness: a region is unregistered when its cache entry is dropped, before its memory can be
//! freed (the memory stays alive at least as long as the entry holds its `Bytes`), so a buffer
//! that matches a region is always that region's bytes. The file was opened before it was read
//! into the cache, so it is the same inode; a file rewritten in place within the cache's
//! one-second revalidation interval can be sent as its new contents (as nginx's
//! `open_file_cache` would), and one that shrank fails the connection instead of sending short.

use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

/// Below this a copy is cheaper than the extra system call.
pub const MIN_LEN: usize = 64 * 1024;

struct Region {
    start: usize,
    len: usize,
    file: Arc<File>,
}

static REGIONS: RwLock<Vec<Region>> = RwLock::new(Vec::new());

/// Keeps a region registered; dropping it unregisters.
#[derive(Debug)]
pub struct Registration {
    start: usize,
}

/// Registers `data` (read from `file`, whole, from offset 0) for `sendfile`.
pub fn register(data: &Bytes, file: File) -> Option<Registration> {
    if data.len() < MIN_LEN {
        return None;
    }
    let start = data.as_ptr() as usize;
    let mut regions = REGIONS.write().ok()?;
    regions.push(Region {
        start,
        len: data.len(),
        file: Arc::new(file),
    });
    Some(Registration { start })
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut regions = match REGIONS.write() {
            Ok(regions) => regions,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(index) = regions.iter().position(|r| r.start == self.start) {
            regions.swap_remove(index);
        }
    }
}

/// The file and offset holding the bytes at `buf`, if `buf` lies inside a registered region.
fn lookup(buf: &[u8]) -> Option<(Arc<File>, u64)> {
    if buf.len() < MIN_LEN {
        return None;
    }
    let ptr = buf.as_ptr() as usize;
    let regions = REGIONS.read().ok()?;
    regions
        .iter()
        .find(|r| r.start <= ptr && ptr + buf.len() <= r.start + r.len)
        .map(|r| (r.file.clone(), (ptr - r.start) as u64))
}

/// A socket the client connection can write through: a `TcpStream` uses `sendfile` for
/// registered regions; anything else (tests) just writes.
pub trait ZeroCopyWrite: AsyncWrite + Unpin {
    fn poll_write_regions(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::pin::Pin::new(self).poll_write_vectored(cx, bufs)
    }
}

impl ZeroCopyWrite for tokio::io::Empty {}

impl ZeroCopyWrite for TcpStream {
    fn poll_write_regions(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_write_vectored(self, cx, bufs)
    }
}

/// `writev`, except that a buffer inside a registered region goes out with `sendfile`.
pub fn poll_write_vectored(
    stream: &mut TcpStream,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let hit = bufs
        .iter()
        .enumerate()
        .find_map(|(index, buf)| lookup(buf).map(|(file, offset)| (index, file, offset)));
    let Some((index, file, offset)) = hit else {
        return std::pin::Pin::new(stream).poll_write_vectored(cx, bufs);
    };
    let fd = stream.as_raw_fd();
    loop {
        ready!(stream.poll_write_ready(cx))?;
        let result = stream.try_io(Interest::WRITABLE, || {
            if index == 0 {
                return send_file(fd, &file, offset, bufs[0].len());
            }
            let head: usize = bufs[..index].iter().map(|b| b.len()).sum();
            let sent = send_more(fd, &bufs[..index])?;
            if sent < head {
                return Ok(sent);
            }
            // The head is out: the file follows in the same call (no second lookup and wake-up).
            // Should that fail, the head counts as written and the next call meets the error.
            Ok(sent + send_file(fd, &file, offset, bufs[index].len()).unwrap_or(0))
        });
        match result {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            other => return Poll::Ready(other),
        }
    }
}

/// `sendmsg` with `MSG_MORE`: the body follows at once, don't send a short packet for the head.
fn send_more(fd: i32, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec (guaranteed by std on Unix).
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(1024) as _;
    // SAFETY: msg points at `bufs`, alive and unmodified for the duration of the call.
    let sent = unsafe { libc::sendmsg(fd, &msg, libc::MSG_MORE | libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

fn send_file(fd: i32, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    let mut off = offset as libc::off_t;
    // SAFETY: both descriptors are open for the call (the socket by `stream`, the file by its
    // Arc); sendfile does not move the file's own position, so sharing it is fine.
    let sent = unsafe { libc::sendfile(fd, file.as_raw_fd(), &mut off, len) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    if sent == 0 {
        // The file shrank after it was cached: the length we announced cannot be met.
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "static file changed while it was being sent",
        ));
    }
    Ok(sent as usize)
}
