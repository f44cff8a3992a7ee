//! `user add|list|passwd|role|remove`: accounts from the command line (the first admin, and a way
//! back in for a locked-out one).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use db::{Db, Role};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is asked for (or read from standard input when it is not a
    /// terminal).
    Add {
        name: String,
        /// reader, editor or admin.
        #[arg(long, default_value = "reader")]
        role: String,
    },
    /// List users and their roles.
    List,
    /// Set a user's password (ends all of their sessions).
    Passwd { name: String },
    /// Change a user's role.
    Role { name: String, role: String },
    /// Remove a user, with their sessions, keys, progress, favorites and collections.
    Remove { name: String },
}

pub fn run(command: UserCommand, db: &Db) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add { name, role } => {
            let role: Role = role.parse()?;
            let hash = new_password_hash(&format!("password for {name}"))?;
            let user = db.accounts().create_user(&name, &hash, role)?;
            println!("added {} ({})", user.name, user.role);
        }
        UserCommand::List => {
            for u in db.accounts().users()? {
                println!("{}\t{}", u.name, u.role);
            }
        }
        UserCommand::Passwd { name } => {
            if db.accounts().user(&name)?.is_none() {
                bail!("no user {name:?}");
            }
            let hash = new_password_hash(&format!("new password for {name}"))?;
            db.accounts().set_password(&name, &hash)?;
            println!("password of {name} changed; their sessions are ended");
        }
        UserCommand::Role { name, role } => {
            let role: Role = role.parse()?;
            db.accounts().set_role(&name, role)?;
            println!("{name} is now {role}");
        }
        UserCommand::Remove { name } => {
            db.accounts().remove_user(&name)?;
            println!("removed {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks for a password twice on a terminal (without echo), or reads one line from standard input.
fn new_password_hash(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = read_hidden(&format!("{prompt}: "))?;
        let again = read_hidden("again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    Ok(server::auth::hash_password(&password)?)
}

/// Reads a line from the terminal with echo off.
fn read_hidden(prompt: &str) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let fd = rustix::stdio::stdin();
    let saved = tcgetattr(fd).context("reading the terminal's settings")?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(fd, OptionalActions::Now, &quiet).context("turning echo off")?;
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    let _ = tcsetattr(fd, OptionalActions::Now, &saved);
    eprintln!();
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
