//! The CLI's side of the socket: blocking std I/O (a CLI call is one request; no runtime
//! start-up cost, which keeps `runway status` in a few milliseconds).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{Command, PROTOCOL_VERSION, Request, Response};

pub enum ClientError {
    /// No daemon listens on this socket.
    NotRunning,
    Failed(String),
}

pub struct Client {
    stream: UnixStream,
}

impl Client {
    pub fn connect(socket: &Path) -> Result<Client, ClientError> {
        match UnixStream::connect(socket) {
            Ok(stream) => Ok(Client { stream }),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                Err(ClientError::NotRunning)
            }
            Err(e) => Err(ClientError::Failed(format!(
                "cannot connect to the daemon at {}: {e}",
                socket.display()
            ))),
        }
    }

    /// Sends one request and waits for its answer (no timeout: stops may take their time).
    pub fn call(&mut self, body: Command) -> Result<serde_json::Value, String> {
        self.call_with_timeout(body, None)
    }

    pub fn call_with_timeout(
        &mut self,
        body: Command,
        timeout: Option<Duration>,
    ) -> Result<serde_json::Value, String> {
        let request = Request {
            v: PROTOCOL_VERSION,
            body,
        };
        let mut line = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.stream
            .set_read_timeout(timeout)
            .map_err(|e| e.to_string())?;
        self.stream
            .write_all(&line)
            .map_err(|e| format!("cannot talk to the daemon: {e}"))?;
        let mut reader = BufReader::new(&self.stream);
        let mut answer = String::new();
        reader
            .read_line(&mut answer)
            .map_err(|e| format!("no answer from the daemon: {e}"))?;
        if answer.is_empty() {
            return Err("the daemon closed the connection without answering".into());
        }
        let response: Response = serde_json::from_str(&answer)
            .map_err(|e| format!("unreadable answer from the daemon: {e}"))?;
        if response.v != PROTOCOL_VERSION {
            return Err(format!(
                "the daemon speaks protocol {} and this runway speaks {PROTOCOL_VERSION}: run `runway down` and start it again with this binary",
                response.v
            ));
        }
        if response.ok {
            Ok(response.data)
        } else {
            Err(response
                .error
                .unwrap_or_else(|| "the daemon refused without a reason".into()))
        }
    }
}
