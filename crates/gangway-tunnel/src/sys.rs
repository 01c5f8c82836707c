//! The Linux system calls behind zero-copy tunnels: `pipe2(2)`, `fcntl(F_SETPIPE_SZ)` and
//! `splice(2)`. The only module of the crate with `unsafe` code.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A kernel pipe used as the zero-copy buffer of one tunnel direction.
#[derive(Debug)]
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// In bytes; a `u32` (pipes are at most a few MiB) keeps every tunnel direction smaller.
    capacity: u32,
}

impl Pipe {
    /// A non-blocking, close-on-exec pipe, resized to `size` bytes when the kernel allows it.
    pub(crate) fn new(size: usize) -> io::Result<Pipe> {
        let mut fds: [libc::c_int; 2] = [-1, -1];
        // SAFETY: `fds` is a valid, writable array of two c_ints, as pipe2(2) requires.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut pipe = Pipe {
            read,
            write,
            capacity: DEFAULT_PIPE_SIZE as u32,
        };
        let fd = pipe.write.as_raw_fd();
        if size != DEFAULT_PIPE_SIZE {
            let requested = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
            // SAFETY: F_SETPIPE_SZ takes an int argument and only acts on the descriptor we own.
            let granted = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, requested) };
            if let Ok(granted) = u32::try_from(granted) {
                pipe.capacity = granted;
                return Ok(pipe);
            }
        }
        // Refused or not asked: the kernel may still have given less than 16 pages (a user over
        // `/proc/sys/fs/pipe-user-pages-soft` gets one page), so ask what it is.
        // SAFETY: F_GETPIPE_SZ takes no argument and only reads the descriptor we own.
        let actual = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        if let Ok(actual) = u32::try_from(actual) {
            pipe.capacity = actual;
        }
        Ok(pipe)
    }

    /// How many bytes the pipe holds when full.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Move up to `len` bytes from the socket `from` into the pipe; `Ok(0)` is end of stream.
    pub(crate) fn splice_in(&self, from: RawFd, len: usize) -> io::Result<usize> {
        splice(from, self.write.as_raw_fd(), len)
    }

    /// Move up to `len` bytes from the pipe into the socket `to`.
    pub(crate) fn splice_out(&self, to: RawFd, len: usize) -> io::Result<usize> {
        splice(self.read.as_raw_fd(), to, len)
    }
}

/// The size Linux gives a new pipe (16 pages).
pub(crate) const DEFAULT_PIPE_SIZE: usize = 16 * 4096;

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: both descriptors are open for the duration of the call (borrowed from live
    // owners), null offsets are allowed for pipes and sockets, and splice does not touch
    // user-space memory.
    let moved = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    // A negative return is the only error signal; any other value fits in usize.
    usize::try_from(moved).map_err(|_| io::Error::last_os_error())
}

/// Whether `error` from `splice` means the descriptors do not support it (use copying instead).
pub(crate) fn splice_unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn splices_between_sockets_through_a_pipe() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let (c, mut d) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let pipe = Pipe::new(DEFAULT_PIPE_SIZE).unwrap();
        assert_eq!(pipe.capacity(), DEFAULT_PIPE_SIZE);
        a.write_all(b"spliced").unwrap();
        let n = pipe.splice_in(b.as_raw_fd(), pipe.capacity()).unwrap();
        assert_eq!(n, 7);
        assert_eq!(pipe.splice_out(c.as_raw_fd(), n).unwrap(), 7);
        let mut got = [0u8; 7];
        d.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"spliced");
        let again = pipe.splice_in(b.as_raw_fd(), pipe.capacity()).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
        drop(a);
        assert_eq!(pipe.splice_in(b.as_raw_fd(), pipe.capacity()).unwrap(), 0);
    }

    #[test]
    fn resizes_when_asked() {
        let pipe = Pipe::new(4 * DEFAULT_PIPE_SIZE).unwrap();
        assert!(pipe.capacity() >= DEFAULT_PIPE_SIZE);
    }
}
