//! The harness's child processes (backend, gangway, HAProxy, nginx) and the file-descriptor
//! limit they inherit.
//!
//! Every child runs in its own process group and gets `SIGTERM` when the harness dies
//! (`PR_SET_PDEATHSIG`), and a [`Guarded`] child's whole group is stopped when it is dropped, on
//! every path out of the harness (errors, panics unwinding, the end): no proxy is left running
//! on a port after a failed run.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Raises the soft limit on open files to the hard limit (5000 idle tunnels need over 10 000
/// descriptors in the proxy and as many in the client and backend); children inherit it.
#[allow(unsafe_code)]
pub(crate) fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit read just above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// A child process whose process group is stopped (`SIGTERM`, then `SIGKILL` after 5 s) when
/// this is dropped.
#[derive(Debug)]
pub(crate) struct Guarded(Child);

impl Guarded {
    /// Spawns `cmd` in a new process group, with `SIGTERM` as its parent-death signal.
    pub(crate) fn spawn(cmd: &mut Command) -> io::Result<Guarded> {
        Self::spawn_with(cmd, [])
    }

    /// [`spawn`](Self::spawn), handing the child the sockets `fds` as its descriptors 3 and 4
    /// (listeners bound by the harness: no port is released and bound again, so no race).
    #[allow(unsafe_code)]
    pub(crate) fn spawn_with<const N: usize>(
        cmd: &mut Command,
        fds: [RawFd; N],
    ) -> io::Result<Guarded> {
        cmd.process_group(0);
        // SAFETY: between fork and exec the closure only calls `prctl`, `fcntl`, `dup2` and
        // `close`, which are async-signal-safe, and allocates nothing. The harness spawns its
        // children from the main thread, which lives as long as the harness, so the death
        // signal comes only when the harness itself is gone.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // Out of the way first (a source may already be 3 or 4), then into place;
                // `dup2` leaves the new descriptors open across exec.
                let mut high = [0; N];
                for (h, &fd) in high.iter_mut().zip(&fds) {
                    *h = libc::fcntl(fd, libc::F_DUPFD, 100);
                    if *h < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                for (i, &h) in high.iter().enumerate() {
                    if libc::dup2(h, 3 + i as RawFd) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    libc::close(h);
                }
                Ok(())
            });
        }
        cmd.spawn().map(Guarded)
    }

    /// The child.
    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.0
    }

    /// The child's process id (also its process group id).
    pub(crate) fn id(&self) -> u32 {
        self.0.id()
    }
}

#[allow(unsafe_code)]
fn signal_group(pgid: u32, signal: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        // SAFETY: `kill` has no memory-safety preconditions; a negative pid names the group.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let pgid = self.0.id();
        // SIGTERM first, so nginx takes its workers down with it.
        signal_group(pgid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (a worker that outlived its master, a hung child).
        signal_group(pgid, libc::SIGKILL);
        let _ = self.0.wait();
    }
}
