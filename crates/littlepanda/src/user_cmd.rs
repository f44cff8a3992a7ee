//! `user add|list|passwd|role|remove`: accounts from the command line (the first admin, and a way
//! back in for a locked-out one).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use db::{Db, Role};
use library::ops::accounts;

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
            // The role is checked before the password is asked for.
            role.parse::<Role>()?;
            let password = read_new_password(&format!("password for {name}"))?;
            let user = accounts::add_user(db, &name, &password, &role)?;
            println!("added {} ({})", user.name, user.role);
        }
        UserCommand::List => {
            for u in accounts::users(db)? {
                println!("{}\t{}", u.name, u.role);
            }
        }
        UserCommand::Passwd { name } => {
            // The name is checked before the password is asked for.
            accounts::user(db, &name)?;
            let password = read_new_password(&format!("new password for {name}"))?;
            accounts::reset_password(db, &name, &password)?;
            println!("password of {name} changed; their sessions are ended");
        }
        UserCommand::Role { name, role } => {
            let role = accounts::set_role(db, &name, &role)?;
            println!("{name} is now {role}");
        }
        UserCommand::Remove { name } => {
            accounts::remove_user(db, &name)?;
            println!("removed {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks for a password twice on a terminal (without echo), or reads one line from standard input.
fn read_new_password(prompt: &str) -> anyhow::Result<String> {
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
    Ok(password)
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
