//! Page images sent from the page cache to the socket without passing through the process.
//!
//! A blob read from memory is a [`bytes::Bytes`] pointing into a volume's map. When hyper hands
//! such bytes to the connection to write, [`ZeroCopyStream`] recognises them
//! ([`lpfs::mapped_file_range`]) and has the kernel send them from the volume file with
//! `sendfile`, as nginx does with plain files, instead of copying them into the socket. Everything
//! else (headers, pages, JSON, small blobs) is written as usual.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Bytes this process has sent by `sendfile` (for tests and statistics).
pub static SENT_BY_SENDFILE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Below this, a copy costs less than the lookup and the extra system call.
const MIN_SENDFILE: usize = 16 << 10;

/// A connection; see the module documentation.
#[derive(Debug)]
pub struct ZeroCopyStream(TcpStream);

impl ZeroCopyStream {
    pub fn new(stream: TcpStream) -> Self {
        Self(stream)
    }

    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &std::fs::File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            let mut at = offset;
            match self.0.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(&self.0, file, Some(&mut at), len).map_err(io::Error::from)
            }) {
                Ok(n) => {
                    SENT_BY_SENDFILE.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl ZeroCopyStream {
    fn poll_send_more(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_io(Interest::WRITABLE, || {
                rustix::net::send(&self.0, buf, rustix::net::SendFlags::MORE)
                    .map_err(io::Error::from)
            }) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.len() >= MIN_SENDFILE
            && let Some((file, offset)) = lpfs::mapped_file_range(buf.as_ptr(), buf.len())
        {
            return self.poll_sendfile(cx, &file, offset, buf.len());
        }
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        for (i, b) in bufs.iter().enumerate() {
            if b.len() < MIN_SENDFILE {
                continue;
            }
            let Some((file, offset)) = lpfs::mapped_file_range(b.as_ptr(), b.len()) else {
                continue;
            };
            // What comes before goes out as usual (a short write is fine: the caller calls
            // again with the rest); then the mapped bytes, by sendfile.
            if i > 0 {
                // Said to be followed by more (MSG_MORE), so the headers leave in the same
                // packets as the start of the body, as nginx's `tcp_nopush` does.
                if i == 1 {
                    return self.poll_send_more(cx, &bufs[0]);
                }
                return Pin::new(&mut self.0).poll_write_vectored(cx, &bufs[..i]);
            }
            return self.poll_sendfile(cx, &file, offset, b.len());
        }
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
